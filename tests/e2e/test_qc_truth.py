"""QC figures against the simulator's truth on the demo-like cohort (fixture ``demo_run``)."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

# markdup also flags fragments that share both ends by chance (deep capture data), so the observed
# rate sits above the simulated PCR-duplicate rate (by up to 0.014 on seed 11); against the
# simulator's position-duplicate rate (chance collisions included) it is within 0.007.
DUPLICATE_RATE_TOL = 0.02
POSITION_DUPLICATE_RATE_TOL = 0.01
# The observed mode comes from ~10^5 fragments; neighbouring lengths near the peak differ by a few
# percent, so the histogram mode may move a bp or two (seed 11: exact for all 16 samples).
FRAGMENT_MODE_TOL_BP = 3
# Depth: unique molecules per target base, mate overlaps once; chance duplicates that markdup
# removes make it slightly lower than the simulator's (seed 11: within 2%).
MEDIAN_DEPTH_REL_TOL = 0.05
ON_TARGET_FRACTION_TOL = 0.02


@pytest.fixture(scope="module")
def qc_vs_truth(demo_run) -> pd.DataFrame:
    truth = pd.read_csv(demo_run.truth / "samples.tsv", sep="\t", dtype={"sample_id": str,
                                                                          "patient_id": str})
    summary = pd.read_csv(demo_run.results / "qc" / "qc_summary.tsv", sep="\t",
                          dtype={"sample_id": str, "patient_id": str})
    assert sorted(summary["sample_id"]) == sorted(truth["sample_id"])
    return truth.merge(summary, on="sample_id", suffixes=("_truth", ""))


def test_summary_carries_sheet_fields(qc_vs_truth):
    df = qc_vs_truth
    assert (df["patient_id"] == df["patient_id_truth"]).all()
    assert (df["sample_type"] == df["sample_type_truth"]).all()
    plasma = df[df["sample_type"] == "plasma"]
    assert (plasma["timepoint_days"] == plasma["timepoint_days_truth"]).all()


def test_duplicate_rate_matches_truth(qc_vs_truth):
    df = qc_vs_truth
    error = (df["duplicate_rate"] - df["duplicate_rate_truth"]).abs()
    assert error.max() <= DUPLICATE_RATE_TOL, df.loc[
        error.idxmax(), ["sample_id", "duplicate_rate", "duplicate_rate_truth"]].to_dict()


def test_position_duplicate_rate_matches_truth(qc_vs_truth):
    df = qc_vs_truth
    if "position_duplicate_rate" not in df.columns:
        pytest.skip("truth/samples.tsv has no position_duplicate_rate column")
    error = (df["duplicate_rate"] - df["position_duplicate_rate"]).abs()
    assert error.max() <= POSITION_DUPLICATE_RATE_TOL, df.loc[
        error.idxmax(), ["sample_id", "duplicate_rate", "position_duplicate_rate"]].to_dict()


def test_on_target_depth_and_fraction_match_truth(qc_vs_truth):
    df = qc_vs_truth
    if "on_target_fraction_truth" not in df.columns:
        pytest.skip("truth/samples.tsv has no on_target_fraction column")
    rel = (df["median_on_target_depth"] / df["median_on_target_depth_truth"] - 1).abs()
    assert rel.max() <= MEDIAN_DEPTH_REL_TOL, df.loc[
        rel.idxmax(), ["sample_id", "median_on_target_depth",
                       "median_on_target_depth_truth"]].to_dict()
    error = (df["on_target_fraction"] - df["on_target_fraction_truth"]).abs()
    assert error.max() <= ON_TARGET_FRACTION_TOL, df.loc[
        error.idxmax(), ["sample_id", "on_target_fraction", "on_target_fraction_truth"]].to_dict()


def test_fragment_mode_matches_truth(qc_vs_truth):
    df = qc_vs_truth
    error = (df["fragment_mode"] - df["fragment_mode_truth"]).abs()
    assert error.max() <= FRAGMENT_MODE_TOL_BP, df.loc[
        error.idxmax(), ["sample_id", "fragment_mode", "fragment_mode_truth"]].to_dict()


def test_plasma_samples_pass_qc(qc_vs_truth):
    plasma = qc_vs_truth[qc_vs_truth["sample_type"] == "plasma"]
    failed = plasma[~plasma["qc_pass"].astype(bool)]
    assert failed.empty, failed[["sample_id", "qc_reason"]].to_string()
    # Simulated cfDNA: mono-nucleosome peak with the 10 bp ripple below 150 bp.
    assert plasma["fragment_mode"].between(140, 200).all()


def test_clean_demo_cohort_passes_identity(demo_run):
    """Issue 22: every sample of the clean demo cohort is its patient's, nobody is contaminated,
    and the QC summary gains the three identity columns at its end (docs/qc.md, "Sample
    identity and contamination")."""
    from plasmatrack.qc.identity import IdentitySettings

    ids = {"sample_id": str, "patient_id": str, "best_match": str, "best_match_patient": str}
    samples = pd.read_csv(demo_run.results / "qc" / "identity_samples.tsv", sep="\t", dtype=ids)
    assert (samples["identity_status"] == "pass").all(), samples["identity_reason"].tolist()
    assert (samples["best_match_patient"] == samples["patient_id"]).all()
    assert (samples["contamination"] < IdentitySettings().max_contamination).all()
    pairs = pd.read_csv(demo_run.results / "qc" / "identity.tsv", sep="\t")
    n = len(samples)
    assert len(pairs) == n * (n - 1) // 2
    same = pairs["same_patient_expected"]
    assert (pairs.loc[same, "verdict"] == "same_individual").all()
    assert (pairs.loc[~same, "verdict"] == "different_individuals").all()
    summary = pd.read_csv(demo_run.results / "qc" / "qc_summary.tsv", sep="\t")
    assert list(summary.columns[-3:]) == ["identity_ok", "best_match", "contamination"]
    assert summary["identity_ok"].all()
