#!/usr/bin/env python
"""Duplicate marking at depth: somatic SNV VAFs after duplicate marking, without it, and with
the end-collision correction (variants/collisions.py), against the simulators' truth.

For each run folder (a simulated cohort in RUN/cohort and its aligned, duplicate-marked BAMs in
RUN/results/align, e.g. from bench_depth.py or a pipeline run), every somatic SNV of every plasma
draw with a true VAF > 0 is counted three ways with the pipeline's read filters:
- marked: duplicates left out (the pipeline's default counts),
- all reads: duplicates counted too (unbiased in both simulators, whose PCR copies do not
  depend on the allele, but noisier),
- corrected: the duplicate-marked counts with the collision correction (whole fragments, as
  the counts table has them), and the estimated molecules behind them (``alt_molecules`` /
  (``ref_molecules`` + ``alt_molecules``), before rounding).
Prints per run the median unique depth and sum(alt) / sum(truth VAF x (ref + alt)) for each (1 =
unbiased), with a bootstrap 95% interval over sites, and the same with the all-reads VAF of
each site in place of the truth (paired on the same fragments, so a tighter interval). Works
with ``plasmatrack simulate`` (truth/variants.tsv) and ``plasmatrack simulate-capture``
(truth/snv_vaf.tsv) cohorts; draws without an indexed BAM in the run are left out.

    .venv/bin/python benchmarks/accuracy_collisions.py RUN [RUN ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from plasmatrack.io import read_tsv
from plasmatrack.variants.collisions import correct_counts
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites

DUPLICATE = 0x400


def truth_snvs(cohort: Path) -> pd.DataFrame:
    """sample_id, patient_id, chrom, pos, ref, alt, expected_vaf of the plasma draws' somatic SNVs
    with a true VAF above 0, from either simulator's truth folder."""
    samples = read_tsv(cohort / "samples.tsv", dtype=str)
    plasma = samples.loc[samples["sample_type"] == "plasma", ["sample_id", "patient_id"]]
    own = cohort / "truth" / "variants.tsv"
    if own.is_file():
        t = read_tsv(own, dtype={"chrom": str, "sample_id": str})
        t = t[(t["category"] == "somatic") & (t["variant_type"] == "snv")]
    else:
        t = read_tsv(cohort / "truth" / "snv_vaf.tsv", dtype={"chrom": str, "sample_id": str})
    t = t[t["expected_vaf"] > 0].drop(columns=["patient_id"], errors="ignore")
    return t.merge(plasma, on="sample_id")[["sample_id", "patient_id", "chrom", "pos", "ref",
                                             "alt", "expected_vaf"]]


def count_three_ways(bam: Path, sites: pd.DataFrame) -> pd.DataFrame:
    """alt and ref+alt fragment counts of ``sites`` as marked, all reads, corrected."""
    sites = sites.assign(variant_type="snv").reset_index(drop=True)
    marked_filter = ReadFilterSettings()
    marked = count_sites(bam, sites, marked_filter, end_collisions=True)
    every = count_sites(bam, sites, ReadFilterSettings(flag_filter=marked_filter.flag_filter
                                                       & ~DUPLICATE))
    corrected = correct_counts(marked)
    out = sites[["chrom", "pos", "expected_vaf"]].copy()
    for label, table in (("marked", marked), ("all", every), ("corrected", corrected)):
        out[f"{label}_alt"] = table["alt_count"].to_numpy()
        out[f"{label}_n"] = (table["alt_count"] + table["ref_count"]).to_numpy()
    # the estimator itself (the counts table rounds it to whole fragments)
    molecules = corrected["alt_molecules"] + corrected["ref_molecules"]
    out["estimated_alt"] = (out["marked_n"] * corrected["alt_molecules"] / molecules).to_numpy()
    out["estimated_n"] = out["marked_n"]
    out["collision_factor"] = corrected["collision_factor"].to_numpy()
    return out


def ratio_interval(alt: np.ndarray, expected: np.ndarray, rng: np.random.Generator,
                   n_boot: int = 2000) -> tuple[float, float, float]:
    """sum(alt) / sum(expected alt) and its bootstrap 95% interval over sites."""
    idx = rng.integers(0, alt.size, (n_boot, alt.size))
    boot = alt[idx].sum(axis=1) / expected[idx].sum(axis=1)
    return float(alt.sum() / expected.sum()), *np.percentile(boot, [2.5, 97.5])


def summarise_run(run: Path) -> dict:
    truth = truth_snvs(run / "cohort")
    parts = []
    for (sample, patient), sites in truth.groupby(["sample_id", "patient_id"], sort=True):
        bam = run / "results" / "align" / patient / f"{sample}.bam"
        if not Path(f"{bam}.bai").is_file():  # draws not aligned in this run are left out
            continue
        parts.append(count_three_ways(bam, sites).assign(sample_id=sample))
    counts = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(0)
    row = {"run": run.name, "sites": len(counts),
           "median_unique_depth": float(counts["marked_n"].median()),
           "median_collision_factor": float(counts["collision_factor"].median())}
    for label in ("marked", "all", "corrected", "estimated"):
        expected = counts["expected_vaf"].to_numpy() * counts[f"{label}_n"].to_numpy()
        row[label] = ratio_interval(counts[f"{label}_alt"].to_numpy(dtype=float), expected, rng)
        # the same sites with all reads as the reference: paired, so a tighter interval
        expected = (counts["all_alt"] / counts["all_n"]).to_numpy() * counts[f"{label}_n"]
        row[f"{label}_vs_all"] = ratio_interval(counts[f"{label}_alt"].to_numpy(dtype=float),
                                                expected.to_numpy(), rng)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    print("run\tSNV draws\tmedian unique depth\tmedian collision factor\t"
          "marked VAF/truth\tall reads VAF/truth\tcorrected VAF/truth\t"
          "estimated molecules VAF/truth\tmarked VAF/all-reads VAF\t"
          "corrected VAF/all-reads VAF\testimated molecules VAF/all-reads VAF")
    for run in args.runs:
        r = summarise_run(run)
        cells = [f"{r[k][0]:.3f} ({r[k][1]:.3f}-{r[k][2]:.3f})"
                 for k in ("marked", "all", "corrected", "estimated", "marked_vs_all",
                           "corrected_vs_all", "estimated_vs_all")]
        print(f"{r['run']}\t{r['sites']}\t{r['median_unique_depth']:.0f}\t"
              f"{r['median_collision_factor']:.3f}\t" + "\t".join(cells))


if __name__ == "__main__":
    main()
