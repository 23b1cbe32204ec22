"""Accuracy and speed of sample identity on aligned cohorts (docs/qc.md, docs/benchmarks.md).

    python benchmarks/accuracy_identity.py RUN_DIR [RUN_DIR ...] [--seeds 3] [--work DIR]

RUN_DIR holds a pipeline run's ``results/align/<patient>/<sample>.bam`` and the cohort's
``samples.tsv``, ``panel.bed`` and reference ``genome.fa`` (a ``plasmatrack simulate`` or
``capturesim`` cohort, or any other). For each seed it injects, independently of either
simulator, by relabelling and mixing aligned reads with samtools (pysam):
- a swap: two plasma draws of different patients exchange their BAMs;
- contamination: a draw gets a fraction c (2, 5, 10 %) of another patient's draw's fragments
  (``samtools view -s`` on both, then ``samtools merge``); the truth is the donor's share of
  the fragments at the fingerprint sites (and, for reference, of the whole library);
and runs the identity check with and without the matched normals. Prints one line per case:
swaps detected, false alarms, contamination truth vs estimate; and the CPU time of the
fingerprint pileup per sample."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from plasmatrack.qc.identity import IdentitySettings
from plasmatrack.qc.identity_pipeline import (IdentityPaths, run_fingerprint,
                                              run_fingerprint_sites, run_identity)

LEVELS = (0.02, 0.05, 0.10)


def mix(host: Path, donor: Path, fraction: float, seed: int, out: Path, sites: Path
        ) -> tuple[float, float]:
    """A BAM with about ``fraction`` of its fragments from ``donor``. Returns the true donor
    share of all fragments and of the fragments at the fingerprint ``sites`` (the two differ
    when the libraries differ in on-target fraction; the estimator sees the second)."""
    import pysam

    def count(bam: Path) -> int:
        return int(pysam.view("-c", "-F", "0x900", str(bam)).strip())

    n_host, n_donor = count(host), count(donor)
    parts = []
    for bam, keep, tag in ((host, 1 - fraction, "h"), (donor, fraction * n_host / n_donor, "d")):
        part = out.with_suffix(f".{tag}.bam")
        # samtools -s SEED.FRACTION keeps whole fragments (it hashes the read name)
        pysam.view("-b", "-s", f"{seed}{str(min(keep, 0.999))[1:]}", "-o", str(part), str(bam),
                   catch_stdout=False)
        pysam.index(str(part))
        parts.append(part)
    pysam.merge("-f", "-c", "-p", str(out), *map(str, parts))
    pysam.index(str(out))
    whole = [count(p) for p in parts]
    at_sites = [float(run_fingerprint(p, sites, p.with_suffix(".fp.tsv"),
                                      IdentitySettings())["depth"].sum()) for p in parts]
    for part in parts:
        for path in (part, Path(f"{part}.bai"), part.with_suffix(".fp.tsv")):
            path.unlink()
    return whole[1] / sum(whole), at_sites[1] / sum(at_sites)


def check(sheet: pd.DataFrame, work: Path, sites: Path, settings: IdentitySettings,
          cache: dict) -> pd.DataFrame:
    fps = []
    for row in sheet.itertuples():
        fp = cache.get(row.bam)
        if fp is None:
            fp = work / f"fp_{len(cache)}.tsv"
            run_fingerprint(row.bam, sites, fp, settings)
            cache[row.bam] = fp
        fps.append(fp)
    paths = IdentityPaths(fps, sites, work / "identity.tsv", work / "identity_samples.tsv")
    return run_identity(sheet, paths, settings)[1]


def cohort_sheet(run: Path) -> pd.DataFrame:
    sheet = pd.read_csv(run / "samples.tsv", sep="\t", dtype=str)
    sheet["bam"] = [str(run / "results" / "align" / p / f"{s}.bam")
                    for p, s in zip(sheet["patient_id"], sheet["sample_id"])]
    return sheet[["sample_id", "patient_id", "sample_type", "bam"]]


def cases(run: Path, seeds: int, work: Path) -> list[dict]:
    settings = IdentitySettings()
    sheet = cohort_sheet(run)
    sites = work / "sites.tsv"
    normals = sheet[sheet["sample_type"] == "normal"]
    run_fingerprint_sites(sites, settings, run / "genome.fa", list(normals["bam"]),
                          run / "panel.bed")
    cache: dict = {}
    t0 = time.process_time()
    clean = check(sheet, work, sites, settings, cache)
    cpu = (time.process_time() - t0) / len(sheet)
    out = [dict(case="clean", normals=True, alarms=int((~clean["identity_ok"]).sum()),
                max_contamination=float(clean["contamination"].max()),
                sites=len(pd.read_csv(sites, sep="\t")), cpu_per_sample=cpu)]
    plasma_only = sheet[sheet["sample_type"] == "plasma"].reset_index(drop=True)
    res = check(plasma_only, work, sites, settings, cache)
    out.append(dict(case="clean", normals=False, alarms=int((~res["identity_ok"]).sum()),
                    max_contamination=float(res["contamination"].max())))
    plasma = sheet.index[sheet["sample_type"] == "plasma"].to_numpy()
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 22])
        a = int(rng.choice(plasma))
        b = int(rng.choice([i for i in plasma
                            if sheet.at[i, "patient_id"] != sheet.at[a, "patient_id"]]))
        out += swap_cases(sheet, a, b, work, sites, settings, cache, seed)
        out += contamination_cases(sheet, a, b, work, sites, settings, cache, seed)
    return out


def swap_cases(sheet, a, b, work, sites, settings, cache, seed) -> list[dict]:
    swapped = sheet.copy()
    swapped.loc[a, "bam"], swapped.loc[b, "bam"] = sheet.at[b, "bam"], sheet.at[a, "bam"]
    rows = []
    for normals in (True, False):
        use = swapped if normals else swapped[swapped["sample_type"] == "plasma"]
        res = check(use.reset_index(drop=True), work, sites, settings, cache)
        failed = set(res.loc[~res["identity_ok"], "sample_id"])
        truth = {sheet.at[a, "sample_id"], sheet.at[b, "sample_id"]}
        rows.append(dict(case="swap", seed=seed, normals=normals, swapped=" ".join(sorted(truth)),
                         detected=int(len(truth & failed)), alarms=len(failed - truth)))
    return rows


def contamination_cases(sheet, a, b, work, sites, settings, cache, seed) -> list[dict]:
    rows = []
    for level in LEVELS:
        mixed = work / f"mix_{seed}_{level}.bam"
        whole, true = mix(Path(sheet.at[a, "bam"]), Path(sheet.at[b, "bam"]), level, seed + 1,
                          mixed, sites)
        dirty = sheet.copy()
        dirty.loc[a, "bam"] = str(mixed)
        for normals in (True, False):
            use = (dirty if normals else dirty[dirty["sample_type"] == "plasma"]).reset_index(
                drop=True)
            res = check(use, work, sites, settings, cache).set_index("sample_id")
            row = res.loc[sheet.at[a, "sample_id"]]
            others = res.drop(index=sheet.at[a, "sample_id"])
            rows.append(dict(case="contamination", seed=seed, normals=normals, library=whole,
                             truth=true,
                             estimate=row["contamination"], source=row["contamination_source"],
                             donor=sheet.at[b, "patient_id"],
                             flagged=bool(row["contamination"] > settings.max_contamination),
                             alarms=int((others["contamination"]
                                         > settings.max_contamination).sum()
                                        + (~others["identity_ok"]).sum())))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("identity_bench"))
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    for run in args.runs:
        work = args.work / run.name
        work.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(cases(run, args.seeds, work))
        print(f"== {run}")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
