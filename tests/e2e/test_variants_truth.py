"""Variant tracking against the simulator's truth on the demo-like cohort (4 patients, seed 11).

The criteria of issue 4, asserted on the published tables. The demo cohort's plasma depth is
~100-500 unique fragments per site, so "expected VAF >= 1% at >= 500x" selects few or no
observations; the test also asserts what this depth supports: every somatic observation with
>= 5 expected alt fragments (expected VAF x observed depth) is detected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.variants.sites import Reference, left_normalize

pytestmark = pytest.mark.slow

KEY = ["patient_id", "sample_id", "chrom", "pos", "ref", "alt"]
CONTRACT = ["patient_id", "sample_id", "sample_type", "timepoint_days", "chrom", "pos", "ref",
            "alt", "gene", "ref_count", "alt_count", "depth", "vaf", "vaf_lower", "vaf_upper",
            "background_rate", "p_value", "status", "category", "filters"]


@pytest.fixture(scope="module")
def tables(demo_run):
    tracked = pd.read_csv(demo_run.results / "variants" / "tracked_variants.tsv", sep="\t",
                          dtype={"chrom": str, "patient_id": str, "sample_id": str},
                          keep_default_na=False, na_values=[""])
    truth = pd.read_csv(demo_run.truth / "variants.tsv", sep="\t",
                        dtype={"chrom": str, "patient_id": str, "sample_id": str})
    # Truth indels in the pipeline's convention (left-normalised VCF alleles).
    with Reference(demo_run.cohort / "reference" / "genome.fa") as reference:
        norm = [left_normalize(reference, c, int(p) - 1, r, a)
                for c, p, r, a in zip(truth["chrom"], truth["pos"], truth["ref"], truth["alt"])]
    truth["pos"] = [n[0] + 1 for n in norm]
    truth["ref"] = [n[1] for n in norm]
    truth["alt"] = [n[2] for n in norm]
    merged = truth.merge(tracked, on=KEY, how="left", suffixes=("_truth", ""))
    return tracked, truth, merged


def test_published_table_and_vcfs(demo_run, tables):
    tracked, truth, _ = tables
    assert list(tracked.columns[:20]) == CONTRACT
    assert set(tracked["status"]) <= {"detected", "not_detected", "undetermined"}
    assert set(tracked["category"]) <= {"somatic", "germline", "chip", "artifact"}
    assert (tracked["vaf_lower"] <= tracked["vaf"] + 1e-12).all()
    assert (tracked["vaf"] <= tracked["vaf_upper"] + 1e-12).all()
    samples = pd.read_csv(demo_run.cohort / "samples.tsv", sep="\t", dtype=str)
    for patient, rows in tracked.groupby("patient_id"):
        expected = set(samples.loc[samples["patient_id"] == patient, "sample_id"])
        per_site = rows.groupby(["chrom", "pos", "ref", "alt"])["sample_id"].apply(set)
        assert all(s == expected for s in per_site), patient  # every draw and the normal
        with pysam.VariantFile(str(demo_run.results / "variants" / f"{patient}.vcf.gz")) as vcf:
            assert set(vcf.header.samples) == expected
            records = list(vcf.fetch())
            assert len(records) == len(per_site)
    tf = pd.read_csv(demo_run.results / "variants" / "snv_tumour_fraction.tsv", sep="\t")
    assert list(tf.columns[:7]) == ["sample_id", "patient_id", "timepoint_days",
                                    "tumour_fraction_snv", "tf_snv_lower", "tf_snv_upper",
                                    "n_variants"]


def test_sensitivity(tables):
    _, _, merged = tables
    somatic = merged[(merged["category_truth"] == "somatic") & (merged["expected_vaf"] > 0)]
    # The criterion (may select nothing at this depth).
    deep = somatic[(somatic["expected_vaf"] >= 0.01) & (somatic["depth"] >= 500)]
    assert (deep["status"] == "detected").all()
    # What this depth supports. At 5 expected alt fragments Poisson sampling alone gives one or
    # fewer in 4% of observations, so demand 90% there and every one from 10 expected fragments.
    expected_alt = somatic["expected_vaf"] * somatic["depth"]
    supported = somatic[expected_alt >= 5]
    assert len(supported) >= 30
    assert (supported["status"] == "detected").mean() >= 0.9
    strong = somatic[expected_alt >= 10]
    missed = strong[strong["status"] != "detected"]
    assert missed.empty, missed[KEY + ["expected_vaf", "alt_count", "depth", "p_value"]]


def test_specificity(tables):
    tracked, truth, merged = tables
    negatives_truth = merged[(merged["expected_vaf"] == 0) & merged["status"].notna()]
    truth_keys = set(map(tuple, truth[["patient_id", "chrom", "pos", "ref", "alt"]].values))
    is_truth = [tuple(k) in truth_keys
                for k in tracked[["patient_id", "chrom", "pos", "ref", "alt"]].values]
    negatives_other = tracked[~np.array(is_truth)]
    n_negative = len(negatives_truth) + len(negatives_other)
    # A false detection: detected and reported as a real variant (not flagged as an artifact).
    false = ((negatives_truth["status"] == "detected").sum()
             + ((negatives_other["status"] == "detected")
                & (negatives_other["category"] != "artifact")).sum())
    assert n_negative >= 300
    assert false <= n_negative / 1000


def test_vaf_accuracy(tables):
    _, _, merged = tables
    detected = merged[merged["status"] == "detected"]
    assert len(detected) >= 300
    r = np.corrcoef(detected["vaf"], detected["expected_vaf"])[0, 1]
    assert r >= 0.98
    somatic = detected[detected["category_truth"] == "somatic"]
    assert np.corrcoef(somatic["vaf"], somatic["expected_vaf"])[0, 1] >= 0.9
    # 95% Wilson intervals cover the expected VAF about 95% of the time.
    covered = ((detected["vaf_lower"] <= detected["expected_vaf"])
               & (detected["expected_vaf"] <= detected["vaf_upper"])).mean()
    assert covered >= 0.9


def test_germline_and_chip_classified(tables):
    _, _, merged = tables
    for category in ("germline", "chip"):
        rows = merged[merged["category_truth"] == category]
        assert len(rows) > 0
        assert rows["status"].notna().all(), f"untracked {category} variants"
        if category == "chip":
            # A CHIP site carried by several patients of a 4-patient cohort sits in half the
            # normals, as a systematic error would: the background may blacklist it (documented
            # in docs/variants.md). It must never be called somatic.
            carriers = rows.groupby(["chrom", "pos", "ref", "alt"])["patient_id"].transform("nunique")
            assert (rows.loc[carriers > 1, "category"] != "somatic").all()
            rows = rows[carriers == 1]
        wrong = rows[rows["category"] != category]
        assert wrong.empty, wrong[KEY + ["category", "filters"]]


def test_resistance_variant_emerges(demo_run, tables):
    tracked, _, merged = tables
    median_depth = tracked.groupby("sample_id")["depth"].median()
    clones = pd.read_csv(demo_run.truth / "clones.tsv", sep="\t", dtype={"patient_id": str})
    resistance = clones.loc[clones["role"] == "resistance", ["patient_id", "clone_id"]]
    rows = merged.merge(resistance.drop_duplicates(), on=["patient_id", "clone_id"])
    checked = 0
    for _, variant in rows.groupby(["patient_id", "chrom", "pos", "ref", "alt"]):
        plasma = variant[variant["sample_type_truth"] == "plasma"].sort_values(
            "timepoint_days_truth")
        baseline, progression = plasma.iloc[0], plasma.iloc[-1]
        assert baseline["expected_vaf"] == 0
        depth = progression["depth"]
        if pd.isna(depth):  # not tracked: judge by the sample's typical depth
            depth = median_depth[progression["sample_id"]]
        if progression["expected_vaf"] * depth < 5:
            continue  # too few expected fragments at this depth to demand detection
        assert baseline["status"] != "detected"
        assert progression["status"] == "detected"
        checked += 1
    assert checked >= 2


def test_background_blacklists_noisy_sites(demo_run, tables):
    tracked, _, _ = tables
    noisy = pd.read_csv(demo_run.truth / "noisy_sites.tsv", sep="\t", dtype={"chrom": str})
    rows = tracked.merge(noisy, on=["chrom", "pos", "ref", "alt"])
    assert len(rows) > 0
    # A noisy site never passes as a real variant: blacklisted artifact, or not detected.
    reported = rows[(rows["status"] == "detected") & (rows["category"] != "artifact")]
    assert reported.empty, reported
    threshold = pd.read_csv(demo_run.results / "variants" / "detection_threshold.tsv", sep="\t")
    assert threshold["control_fraction_negative"].iloc[0] >= 0.95
    assert threshold["threshold"].iloc[0] <= threshold["nominal_p_value"].iloc[0]


def test_snv_tumour_fraction(demo_run):
    # The variants stage's estimate (2 x VAF of the clonal set) and the published one, refitted
    # with each SNV's copy number in rule cnv_combine (docs/cnv.md, "SNV tumour fraction with
    # copy number"), which carries the interval coverage.
    truth = pd.read_csv(demo_run.truth / "samples.tsv", sep="\t")
    tables = {"variants": demo_run.results / "variants" / "snv_tumour_fraction.tsv",
              "with copy number": demo_run.results / "cnv" / "tumour_fraction.tsv"}
    for name, path in tables.items():
        tf = pd.read_csv(path, sep="\t")
        m = tf.merge(truth[["sample_id", "tumour_fraction"]].rename(
            columns={"tumour_fraction": "truth"}), on="sample_id")
        plasma = m[m["sample_type"] == "plasma"].dropna(subset=["tumour_fraction_snv"])
        assert len(plasma) >= 10, name
        # At demo depth a patient has 2-5 clonal SNVs, so single draws can be off by a factor
        # of 2 (measured r 0.87-0.99 across simulator versions); the typical error is small.
        assert np.corrcoef(plasma["tumour_fraction_snv"], plasma["truth"])[0, 1] >= 0.8, name
        error = (plasma["tumour_fraction_snv"] - plasma["truth"]).abs()
        assert error.median() <= 0.03, name
        normals = m[m["sample_type"] == "normal"]
        assert (normals["tumour_fraction_snv"].fillna(0) < 0.02).all(), name
    covered = ((plasma["tf_snv_lower"] <= plasma["truth"])
               & (plasma["truth"] <= plasma["tf_snv_upper"])).mean()
    # Back to 0.75 (session 10 had lowered it to 0.6 for 2 x VAF: 8 of 12): with copy number
    # P04's TP53 at tumour copy number 1 is read as such, 10 of 12 (measured on seed 11). The
    # misses left: P01 D2, a subclone in P01's clonal set (docs/variants.md), and P02 D1 at TF
    # 0.02, where copy number is not detected and 2 x VAF is kept.
    assert covered >= 0.75
