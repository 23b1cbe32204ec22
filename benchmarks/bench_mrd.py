"""Benchmark of the residual-disease stage (docs/mrd.md): calibration against truth on two
generators, and CPU per draw as a ratio to aligning the same draw's reads with ``bwa mem``.

    .venv/bin/python benchmarks/bench_mrd.py --accuracy --seeds 10
    .venv/bin/python benchmarks/bench_mrd.py --speed --sites 100 --depth 1000
    .venv/bin/python benchmarks/bench_mrd.py --memory --sites 20 --depth 1000 [--old-scripts DIR]
    .venv/bin/python benchmarks/bench_mrd.py --length-weighting --seeds 5 --n-simulations 600

Accuracy: per seed a ``plasmatrack.simulate.mrd`` cohort (12 patients x 6 draws, half the
on-treatment draws at TF 0) and one of the independent generator of
``tests/unit/test_mrd_calibration.py`` (10 patients x 7 draws), called with the default settings;
the figures pooled over the seeds: specificity on TF-0 draws, sensitivity on draws a Poisson
test at the true background detects with >= 95 % power (the bound), median lod95 / the bound's
LoD95, fraction of detected draws with the TF within 2-fold.

Speed: a code-built BAM of one draw of a personalised panel (``--sites`` SNVs, ``--depth``
fragments each, overlapping 2 x 100 bp pairs with Phred-model errors), its reads aligned by
``bwa mem -t 1`` (the baseline, CPU of the child process; index not counted) and counted +
called by the stage (CPU of this process: counting the draw, then its call against four
controls at the same depths without mutants, so the draw (VAF 5e-4, TF 1e-3) is detected and its
Monte Carlo runs all ``n_simulations``: the costly case).

Memory: the same kind of draw (``--sites`` SNVs 1.5 kb apart, so all in one window of the
counter) at ``--depth`` and at 10x that depth, each counted in a fresh Python process; the
figure is the counting's peak RSS above the process's RSS just before it (MB). ``--old-scripts``
runs the same measurement with another copy of the package (e.g. a checkout of the commit
before the streaming counter) for the comparison. This copy is also measured with the
end-collision tally on (``count_sites(..., end_collisions=True)``, what
``variants.duplicates.collision_correction`` runs).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from plasmatrack.mrd.calibration import calibration_summary, truth_bounds  # noqa: E402
from plasmatrack.mrd.call import TUMOUR_INFORMED, call_cohort  # noqa: E402
from plasmatrack.mrd.pipeline import count_molecules  # noqa: E402
from plasmatrack.mrd.settings import MrdSettings  # noqa: E402
from plasmatrack.mrd.sites import finish_sites  # noqa: E402
from plasmatrack.simulate.mrd import MrdCohortSettings, simulate_mrd_cohort  # noqa: E402


def _unique(frame: pd.DataFrame, run: int) -> pd.DataFrame:
    return frame.assign(sample_id=f"{run}:" + frame["sample_id"])


def accuracy(seeds: int, settings: MrdSettings) -> pd.DataFrame:
    """The calibration figures of both generators, pooled over ``seeds`` seeds."""
    from test_mrd_calibration import _generator_two

    rows = []
    for name in ("simulate.mrd", "independent"):
        calls, bounds = [], []
        for seed in range(1, seeds + 1):
            if name == "simulate.mrd":
                c = simulate_mrd_cohort(seed, MrdCohortSettings(cleared_fraction=0.5))
                sites, counts, draws = c.sites, c.counts, c.draws
                bound_sites = sites[sites["kind"] != "chip"]
            else:
                sites, counts, draws = _generator_two(seed)
                bound_sites = sites[sites["kind"] != "germline"]
            calls.append(_unique(call_cohort(finish_sites(sites), counts, draws, settings,
                                             TUMOUR_INFORMED), seed))
            bounds.append(_unique(truth_bounds(bound_sites, counts, draws,
                                               settings.max_p_value), seed))
        summary = calibration_summary(pd.concat(calls), pd.concat(bounds))
        rows.append({"generator": name, "seeds": seeds, **summary})
    return pd.DataFrame(rows)


def _length_regime(name: str, seed: int, null_only: bool):
    """One cohort with fragment-length bins: sites, counts, draws, the bound's sites."""
    from test_mrd_calibration import _capture_length_bins, _generator_two

    if name == "simulate.mrd":
        size = {"draws": 12, "cleared_fraction": 1.0} if null_only else {"cleared_fraction": 0.5}
        c = simulate_mrd_cohort(seed, MrdCohortSettings(length_bins=True, **size))
        return c.sites, c.counts, c.draws, c.sites[c.sites["kind"] != "chip"]
    size = {"draws": 14, "tf_grid": (0.0,)} if null_only else {}
    sites, counts, draws = _generator_two(seed, **size)
    counts = _capture_length_bins(seed, sites, counts, draws)
    return sites, counts, draws, sites[sites["kind"] != "germline"]


def length_weighting(seeds: int, settings: MrdSettings) -> pd.DataFrame:
    """Fragment-length weighting off vs on, same cohorts: specificity on tumour-free cohorts
    (seeds 11..), sensitivity by TF on mixed ones (seeds 1..), both generators with length bins
    (simulate.mrd with the read simulator's lengths, the independent one with capturesim's)."""
    rows = []
    for name in ("simulate.mrd", "independent"):
        for weighting in (False, True):
            s = replace(settings, fragment_length_weighting=weighting)
            calls, bounds = [], []
            for seed in [*range(1, seeds + 1), *range(11, 11 + seeds)]:
                sites, counts, draws, bound_sites = _length_regime(name, seed, seed > 10)
                calls.append(_unique(call_cohort(finish_sites(sites), counts, draws, s,
                                                 TUMOUR_INFORMED), seed))
                bounds.append(_unique(truth_bounds(bound_sites, counts, draws, s.max_p_value),
                                      seed))
            calls_all, bounds_all = pd.concat(calls), pd.concat(bounds)
            summary = calibration_summary(calls_all, bounds_all)
            t = calls_all.merge(bounds_all[["sample_id", "truth_tf"]], on="sample_id")
            detected = t["status"] == "detected"
            row = {"generator": name, "weighting": weighting, **summary,
                   "weighted_draws": int(t["note"].str.contains("weighted", na=False).sum())}
            row["detected_tf_above_0"] = int((detected & (t["truth_tf"] > 0)).sum())
            for lo, hi in ((1e-5, 3e-5), (3e-5, 1e-4), (1e-4, 3e-4), (3e-4, 1e-3)):
                band = (t["truth_tf"] >= lo) & (t["truth_tf"] < hi)
                row[f"sens_{lo:g}-{hi:g}"] = (f"{int(detected[band].sum())}/{int(band.sum())}")
            rows.append(row)
    return pd.DataFrame(rows)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def speed(n_sites: int, depth: int, settings: MrdSettings) -> dict:
    """CPU seconds of bwa mem on the draw's reads and of the stage on the draw."""
    from plasmatrack.variants import synthetic as syn

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spacing = 1500
        genome = syn.random_genome({"chr1": spacing * (n_sites + 2)}, seed=3)
        fasta = syn.write_fasta(root / "genome.fa", genome)
        rows = []
        for k in range(n_sites):
            pos = spacing * (k + 1) + 1
            ref = genome["chr1"][pos - 1]
            rows.append(("P1", "chr1", pos, ref, "ACGT"[("ACGT".index(ref) + 1) % 4]))
        variants = pd.DataFrame(rows, columns=["patient_id", "chrom", "pos", "ref", "alt"])
        variants["ccf"], variants["multiplicity"], variants["found_in"] = 1.0, 1.0, ""
        sites = finish_sites(variants)
        bam = syn.write_snv_panel_bam(root / "draw.bam", genome, "chr1",
                                      [(p, r, a, 0.0005) for _, _, p, r, a in rows], depth, seed=4)
        r1, r2 = root / "r1.fq", root / "r2.fq"
        # samtools fastq pairs mates only when they are adjacent: collate first.
        subprocess.run(f"samtools collate -u -O {bam} {root / 'tmp'} | samtools fastq -1 {r1} "
                       f"-2 {r2} -0 /dev/null -s /dev/null -n -", shell=True, check=True,
                       capture_output=True)
        subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
        before = _child_cpu()
        wall = time.perf_counter()
        with open(root / "aln.sam", "w") as out:
            subprocess.run(["bwa", "mem", "-Y", "-t", "1", str(fasta), str(r1), str(r2)],
                           check=True, stdout=out, stderr=subprocess.DEVNULL)
        bwa_cpu, bwa_wall = _child_cpu() - before, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        counts = count_molecules(bam, sites, settings)
        ours_count = time.process_time() - cpu
        long = counts.assign(site_id=sites["site_id"].to_numpy())
        # Controls at the draw's depths without mutants: the draw is detected, so its Monte
        # Carlo runs all n_simulations (the costly case).
        frames = [long.assign(sample_id="D1")] + [long.assign(sample_id=s, mutant=0)
                                                  for s in ("C1", "C2", "C3", "C4")]
        draws = pd.DataFrame({"sample_id": ["D1", "C1", "C2", "C3", "C4"],
                              "patient_id": ["P1", "Q", "Q", "Q", "Q"],
                              "sample_type": ["plasma", "normal", "normal", "normal", "normal"],
                              "timepoint_days": [0, None, None, None, None]})
        calls = call_cohort(sites, pd.concat(frames)[["sample_id", "site_id", "mutant", "depth"]],
                            draws, settings, TUMOUR_INFORMED)
        ours_cpu, ours_wall = time.process_time() - cpu, time.perf_counter() - wall
        pairs = n_sites * depth
    return {"sites": n_sites, "fragments_per_site": depth, "read_pairs": pairs,
            "bwa_mem_cpu_s": round(bwa_cpu, 2), "bwa_mem_wall_s": round(bwa_wall, 2),
            "mrd_count_cpu_s": round(ours_count, 2), "mrd_cpu_s": round(ours_cpu, 2),
            "mrd_wall_s": round(ours_wall, 2), "ratio_cpu": round(ours_cpu / bwa_cpu, 3),
            "status": calls["status"].iloc[0], "p_value": calls["p_value"].iloc[0]}


_MEASURE = """
import re, sys
import pandas as pd
from plasmatrack.variants.pileup import count_sites
sites = pd.read_csv(sys.argv[2], sep="\\t")
def status_kb(field):
    text = open("/proc/self/status").read()
    return int(re.search(field + r":\\s+(\\d+)", text).group(1))
extra = {"end_collisions": True} if sys.argv[3] == "1" else {}  # an older copy lacks it
count_sites(sys.argv[1], sites.iloc[:1], **extra)  # warm up: imports, the BAM index
before = status_kb("VmRSS")
counts = count_sites(sys.argv[1], sites, **extra)
print(max(status_kb("VmHWM") - before, 0) / 1024, int(counts["depth"].sum()))
"""


def _counting_peak_mb(bam: Path, sites: Path, scripts: Path,
                      end_collisions: bool = False) -> tuple[float, int]:
    """Peak RSS of ``count_sites`` above the RSS before it (MB) and the fragments counted, in a
    fresh process importing the package from ``scripts``. The peak is the process's VmHWM:
    ``getrusage``'s ru_maxrss would carry this (parent) process's peak across the exec."""
    env = {"PYTHONPATH": str(scripts), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(bam), str(sites),
                          "1" if end_collisions else "0"], env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def memory(n_sites: int, depth: int, old_scripts: Path | None) -> pd.DataFrame:
    """Peak RSS of counting one draw at ``depth`` and at 10x ``depth`` fragments per site."""
    from plasmatrack.variants import synthetic as syn

    copies = {"this": (ROOT / "scripts", False),
              "this, end-collision tally": (ROOT / "scripts", True)}
    copies |= {"old": (old_scripts, False)} if old_scripts else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        genome = syn.random_genome({"chr1": 1500 * (n_sites + 2)}, seed=3)
        snvs = []
        for k in range(n_sites):
            pos = 1500 * (k + 1) + 1
            ref = genome["chr1"][pos - 1]
            snvs.append((pos, ref, "ACGT"[("ACGT".index(ref) + 1) % 4], 0.01))
        sites = root / "sites.tsv"
        pd.DataFrame([("chr1", p, r, a, "snv") for p, r, a, _ in snvs],
                     columns=["chrom", "pos", "ref", "alt", "variant_type"]).to_csv(
            sites, sep="\t", index=False)
        for fold in (1, 10):
            bam = syn.write_snv_panel_bam(root / f"x{fold}.bam", genome, "chr1", snvs,
                                          depth * fold, seed=4)
            for label, (scripts, ends) in copies.items():
                peak, fragments = _counting_peak_mb(bam, sites, scripts, ends)
                rows.append({"counter": label, "fragments_per_site": depth * fold,
                             "fragments_counted": fragments, "peak_rss_mb": round(peak, 1)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--length-weighting", action="store_true")
    parser.add_argument("--n-simulations", type=int, default=None)
    parser.add_argument("--old-scripts", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--depth", type=int, default=1000)
    args = parser.parse_args()
    settings = MrdSettings()
    if args.n_simulations:
        settings = replace(settings, n_simulations=args.n_simulations)
    pd.set_option("display.width", 250)
    if args.accuracy:
        print(accuracy(args.seeds, settings).to_string(index=False))
    if args.speed:
        print(pd.DataFrame([speed(args.sites, args.depth, settings)]).to_string(index=False))
    if args.length_weighting:
        print(length_weighting(args.seeds, settings).to_string(index=False))
    if args.memory:
        print(memory(args.sites, args.depth, args.old_scripts).to_string(index=False))


if __name__ == "__main__":
    main()
