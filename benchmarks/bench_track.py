"""Benchmark: tracking N sites in one BAM with plasmatrack's fragment counter, as a ratio to
``bcftools mpileup -R sites`` on the same BAM and sites, same machine, same run.

    .venv/bin/python benchmarks/bench_track.py                      # synthetic BAM (default)
    .venv/bin/python benchmarks/bench_track.py --sites 200 --depth 2000
    .venv/bin/python benchmarks/bench_track.py --bam S.bam --reference genome.fa \
        --site-table sites.tsv                                      # any BAM + site table
    .venv/bin/python benchmarks/bench_track.py --sensitivity        # detection by VAF x depth
    .venv/bin/python benchmarks/bench_track.py --evaluate RUN_DIR   # accuracy vs simulator truth

Both sides apply the same filters: mapping quality >= 40, base quality >= 30, no depth cap
(bcftools -d 1000000), duplicates/secondary/supplementary/QC-fail excluded (bcftools' default
--skip-any-set, plus ours). bcftools also computes genotype likelihoods, and by default BAQ; it
is timed both with and without BAQ (-B). Each side is run ``--repeats`` times, alternating, and
the fastest run of each is compared (the machine is shared; the minimum is the least disturbed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from plasmatrack.variants import synthetic as syn  # noqa: E402
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites  # noqa: E402
from plasmatrack.variants.sites import validate_sites  # noqa: E402


def synthetic_case(root: Path, n_sites: int, depth: int, seed: int = 1):
    """A BAM with ``n_sites`` SNVs 1.5 kb apart, each covered by ``depth`` fragments (2% alt),
    overlapping mates and Phred-model sequencing errors as in the demo cohort."""
    spacing = 1500
    genome = syn.random_genome({"chr1": spacing * (n_sites + 2)}, seed=seed)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    rows = []
    for k in range(n_sites):
        pos = spacing * (k + 1) + 1
        ref = genome["chr1"][pos - 1]
        rows.append(("chr1", pos, ref, "ACGT"[("ACGT".index(ref) + 1) % 4]))
    bam = syn.write_snv_panel_bam(root / "sample.bam", genome, "chr1",
                                  [(p, r, a, 0.02) for _, p, r, a in rows], depth, seed=seed)
    return bam, fasta, pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])


def bcftools_command(bam: Path, fasta: Path, regions: Path, baq: bool) -> list[str]:
    exe = shutil.which("bcftools")
    base = [exe, "mpileup"] if exe else [sys.executable, "-c",
                                          "import sys, pysam.bcftools as b; "
                                          "b.mpileup(*sys.argv[1:], catch_stdout=False)"]
    cmd = base + ["-f", str(fasta), "-R", str(regions), "-d", "1000000", "-q", "40", "-Q", "30",
                  "-a", "AD,ADF,ADR,DP", "-Ou", "-o", "/dev/null"]
    if not baq:
        cmd.append("-B")
    return cmd + [str(bam)]


TIERS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05)
DEPTHS = (250, 500, 1000, 2000, 5000)


def sensitivity(sites_per_tier: int = 20, n_controls: int = 4, control_depth: int = 2000,
                depths=DEPTHS, tiers=TIERS, seed: int = 7) -> pd.DataFrame:
    """Tumour-informed tracking sensitivity by VAF tier and depth.

    Simulated reads (Phred-model qualities and errors, overlapping mates; no aligner) over
    ``sites_per_tier`` SNVs per VAF tier plus as many absent sites; ``n_controls`` control
    samples at ``control_depth`` (no variants) fit the background (same code and defaults as the
    pipeline); each test
    sample (one per depth, fragments per site) is then called. Returns one row per depth x tier
    with the detected fraction, the undetermined fraction and, for VAF 0, false detections."""
    from plasmatrack.variants.background import BackgroundSettings, build_background
    from plasmatrack.variants.classify import CallSettings, call_observations
    from plasmatrack.variants.background import patient_background

    levels = [0.0, *tiers]
    n_sites = sites_per_tier * len(levels)
    genome = syn.random_genome({"chr1": 600 * (n_sites + 2)}, seed=seed)
    rows = []
    for k in range(n_sites):
        pos = 600 * (k + 1) + 1
        ref = genome["chr1"][pos - 1]
        rows.append(("chr1", pos, ref, "ACGT"[("ACGT".index(ref) + 1 + k % 3) % 4],
                     levels[k % len(levels)]))
    table = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "vaf"])
    sites, _ = validate_sites(table[["chrom", "pos", "ref", "alt"]], "sites")
    params = BackgroundSettings()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        counts = []
        for c in range(n_controls):
            bam = syn.write_snv_panel_bam(Path(tmp) / f"C{c}.bam", genome, "chr1",
                                          [(p, r, a, 0.0) for _, p, r, a, _ in rows],
                                          control_depth, seed=seed + 100 + c, sample=f"C{c}")
            counts.append(count_sites(bam, sites).assign(
                sample_id=f"C{c}", patient_id=f"C{c}", sample_type="normal"))
        obs = pd.concat(counts, ignore_index=True)
        bg, threshold, ctrl = build_background(sites.assign(patients=""), obs,
                                               [f"C{c}" for c in range(n_controls)], params)
        pbg = patient_background(bg, ctrl, "T", params)
        for depth in depths:
            bam = syn.write_snv_panel_bam(Path(tmp) / f"T{depth}.bam", genome, "chr1",
                                          [(p, r, a, v) for _, p, r, a, v in rows], depth,
                                          seed=seed + depth, sample="T")
            c = count_sites(bam, sites).assign(sample_id="T", patient_id="T",
                                               sample_type="plasma")
            c["site_id"] = c["chrom"] + ":" + c["pos"].astype(str) + ":" + c["ref"] + ">" + c["alt"]
            c = c.join(pbg[["bg_alpha", "bg_beta", "background_rate"]], on="site_id")
            # Tumour-informed: the VAF in question is the tier itself.
            calls = call_observations(c, threshold["threshold"],
                                      CallSettings(reference_vaf=0.01))
            calls["true_vaf"] = table["vaf"].to_numpy()
            for vaf, g in calls.groupby("true_vaf"):
                out.append({"fragments_per_site": depth, "vaf": vaf,
                            "median_depth": float(g["depth"].median()), "sites": len(g),
                            "detected": float((g["status"] == "detected").mean()),
                            "threshold": threshold["threshold"]})
    return pd.DataFrame(out)


def evaluate(run: Path) -> dict:
    """Accuracy of a pipeline run on a simulated cohort (RUN/cohort/truth, RUN/results/variants)
    against the issue's criteria; prints a summary and returns the figures."""
    from plasmatrack.variants.sites import Reference, left_normalize

    cohort, res = run / "cohort", run / "results" / "variants"
    read = dict(sep="\t", dtype={"chrom": str, "patient_id": str, "sample_id": str})
    tracked = pd.read_csv(res / "tracked_variants.tsv", keep_default_na=False, na_values=[""],
                          **read)
    truth = pd.read_csv(cohort / "truth" / "variants.tsv", **read)
    with Reference(cohort / "reference" / "genome.fa") as reference:
        norm = [left_normalize(reference, c, int(p) - 1, r, a)
                for c, p, r, a in zip(truth["chrom"], truth["pos"], truth["ref"], truth["alt"])]
    truth["pos"], truth["ref"], truth["alt"] = ([n[0] + 1 for n in norm], [n[1] for n in norm],
                                                [n[2] for n in norm])
    key = ["patient_id", "sample_id", "chrom", "pos", "ref", "alt"]
    m = truth.merge(tracked, on=key, how="left", suffixes=("_truth", ""))
    som = m[(m["category_truth"] == "somatic") & (m["expected_vaf"] > 0)]
    out: dict = {}
    deep = som[(som["expected_vaf"] >= 0.01) & (som["depth"] >= 500)]
    out["vaf>=1%,depth>=500: detected/total"] = (
        f"{(deep['status'] == 'detected').sum()}/{len(deep)}")
    one = som[som["expected_vaf"] >= 0.01]
    out["vaf>=1% (any depth): detected/total"] = f"{(one['status'] == 'detected').sum()}/{len(one)}"
    five = som[som["expected_vaf"] * som["depth"] >= 5]
    out[">=5 expected alt fragments: detected/total"] = (
        f"{(five['status'] == 'detected').sum()}/{len(five)}")
    variants = som.drop_duplicates(["patient_id", "chrom", "pos", "ref", "alt"])
    out["somatic truth variants tracked"] = f"{variants['status'].notna().sum()}/{len(variants)}"
    neg_truth = m[(m["expected_vaf"] == 0) & m["status"].notna()]
    tkeys = set(map(tuple, truth[["patient_id", "chrom", "pos", "ref", "alt"]].values))
    other = tracked[[tuple(k) not in tkeys for k in
                     tracked[["patient_id", "chrom", "pos", "ref", "alt"]].values]]
    false = int((neg_truth["status"] == "detected").sum()
                + ((other["status"] == "detected") & (other["category"] != "artifact")).sum())
    n_neg = len(neg_truth) + len(other)
    out["false detections / truth-negative observations"] = f"{false}/{n_neg}"
    det = m[m["status"] == "detected"]
    out["VAF Pearson r, all detected"] = round(float(np.corrcoef(det["vaf"],
                                                                 det["expected_vaf"])[0, 1]), 4)
    ds = det[det["category_truth"] == "somatic"]
    out["VAF Pearson r, somatic detected"] = round(float(np.corrcoef(ds["vaf"],
                                                                     ds["expected_vaf"])[0, 1]), 4)
    out["95% interval covers expected VAF (detected)"] = round(float(
        ((det["vaf_lower"] <= det["expected_vaf"]) & (det["expected_vaf"] <= det["vaf_upper"]))
        .mean()), 3)
    for cat in ("germline", "chip"):
        rows = m[m["category_truth"] == cat].drop_duplicates(["patient_id", "chrom", "pos"])
        out[f"{cat} variants classified {cat}"] = f"{(rows['category'] == cat).sum()}/{len(rows)}"
    tr_som = tracked.merge(truth[truth["category"] == "somatic"][key].drop_duplicates(), on=key)
    out["somatic truth observations classified somatic"] = (
        f"{(tr_som['category'] == 'somatic').sum()}/{len(tr_som)}")
    clones = pd.read_csv(cohort / "truth" / "clones.tsv", sep="\t", dtype={"patient_id": str})
    resist = clones.loc[clones["role"] == "resistance", ["patient_id", "clone_id"]]
    rv = m.merge(resist.drop_duplicates(), on=["patient_id", "clone_id"])
    lines = []
    for (p, c, pos), g in rv.groupby(["patient_id", "chrom", "pos"]):
        g = g[g["sample_type_truth"] == "plasma"].sort_values("timepoint_days_truth")
        lines.append(f"{p} {g['gene_truth'].iloc[0]}: " + ", ".join(
            f"{v:.4f}->{s if isinstance(s, str) else 'untracked'}"
            for v, s in zip(g["expected_vaf"], g["status"])))
    out["resistance variants (expected VAF->status per draw)"] = lines
    tf = pd.read_csv(res / "snv_tumour_fraction.tsv", sep="\t")
    ts = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t")
    tf = tf.merge(ts[["sample_id", "tumour_fraction"]], on="sample_id")
    pl = tf[tf["sample_type"] == "plasma"].dropna(subset=["tumour_fraction_snv"])
    out["SNV TF vs truth TF: Pearson r"] = round(float(np.corrcoef(
        pl["tumour_fraction_snv"], pl["tumour_fraction"])[0, 1]), 4)
    out["SNV TF: median |error|"] = round(float(
        (pl["tumour_fraction_snv"] - pl["tumour_fraction"]).abs().median()), 4)
    covered = (pl["tf_snv_lower"] <= pl["tumour_fraction"]) & (
        pl["tumour_fraction"] <= pl["tf_snv_upper"])
    out["SNV TF: 95% interval covers truth"] = f"{covered.sum()}/{len(pl)}"
    thr = pd.read_csv(res / "detection_threshold.tsv", sep="\t").iloc[0]
    out["threshold (nominal, used, controls negative)"] = (
        f"{thr['nominal_p_value']:.3g}, {thr['threshold']:.3g}, "
        f"{thr['control_fraction_negative']:.4f} of {int(thr['n_control_observations'])}")
    out["median plasma depth (fragments)"] = float(
        tracked.loc[tracked["sample_type"] == "plasma", "depth"].median())
    for k, v in out.items():
        if isinstance(v, list):
            print(f"{k}:")
            for line in v:
                print(f"    {line}")
        else:
            print(f"{k}: {v}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100, help="synthetic: number of sites")
    parser.add_argument("--depth", type=int, default=2000, help="synthetic: fragments per site")
    parser.add_argument("--bam", help="use this BAM instead of a synthetic one")
    parser.add_argument("--reference", help="FASTA of --bam")
    parser.add_argument("--site-table", help="TSV (chrom, pos, ref, alt) of sites in --bam")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sensitivity", action="store_true",
                        help="measure detection by VAF tier x depth instead of speed")
    parser.add_argument("--sites-per-tier", type=int, default=20)
    parser.add_argument("--evaluate", metavar="RUN_DIR",
                        help="accuracy vs truth of a pipeline run on a simulated cohort")
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate(Path(args.evaluate))
        return 0
    if args.sensitivity:
        t0 = time.perf_counter()
        curve = sensitivity(args.sites_per_tier)
        wide = curve.pivot(index="vaf", columns="fragments_per_site", values="detected")
        depth = curve.groupby("fragments_per_site")["median_depth"].median()
        print(f"fraction detected (rows: true VAF; columns: fragments per site), "
              f"{args.sites_per_tier} sites per cell, threshold "
              f"p < {curve['threshold'].iloc[0]:.3g}; {time.perf_counter() - t0:.0f} s")
        print("median informative depth after filters: "
              + ", ".join(f"{k}: {v:.0f}" for k, v in depth.items()))
        print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.bam:
            bam, fasta = Path(args.bam), Path(args.reference)
            sites = pd.read_csv(args.site_table, sep="\t", dtype={"chrom": str})
            label = f"{bam.name}, {len(sites)} sites"
        else:
            t0 = time.perf_counter()
            bam, fasta, sites = synthetic_case(root, args.sites, args.depth)
            label = (f"synthetic, {args.sites} sites x {args.depth} fragments "
                     f"(built in {time.perf_counter() - t0:.1f} s)")
        sites, _ = validate_sites(sites, "sites")
        regions = root / "regions.tsv"
        # bcftools -R: CHROM, BEG, END (1-based, inclusive); an indel spans its ref allele.
        pd.DataFrame({"chrom": sites["chrom"], "beg": sites["pos"],
                      "end": sites["pos"] + sites["ref"].str.len() - 1}).sort_values(
            ["chrom", "beg"]).to_csv(regions, sep="\t", header=False, index=False)
        filters = ReadFilterSettings()
        ours, bcf_baq, bcf_nobaq = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            counts = count_sites(bam, sites, filters, fasta)
            ours.append(time.perf_counter() - t)
            for baq, store in ((True, bcf_baq), (False, bcf_nobaq)):
                t = time.perf_counter()
                subprocess.run(bcftools_command(bam, fasta, regions, baq), check=True,
                               stderr=subprocess.DEVNULL)
                store.append(time.perf_counter() - t)
        fragments = int(counts["depth"].sum())
        print(f"case: {label}; {fragments} fragments counted")
        print(f"plasmatrack count_sites      min {min(ours):.3f} s  (median {np.median(ours):.3f})")
        print(f"bcftools mpileup -R (BAQ)    min {min(bcf_baq):.3f} s  "
              f"(median {np.median(bcf_baq):.3f})")
        print(f"bcftools mpileup -R -B       min {min(bcf_nobaq):.3f} s  "
              f"(median {np.median(bcf_nobaq):.3f})")
        print(f"ratio ours / bcftools (BAQ):     {min(ours) / min(bcf_baq):.2f}")
        print(f"ratio ours / bcftools -B:        {min(ours) / min(bcf_nobaq):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
