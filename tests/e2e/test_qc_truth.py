"""QC figures against the simulator's truth on the demo-like cohort (fixture ``demo_run``)."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

# markdup also flags fragments that share both ends by chance (deep capture data), so the observed
# rate sits slightly above the simulated PCR-duplicate rate; 0.03 absolute covers that.
DUPLICATE_RATE_TOL = 0.03
# The observed mode comes from ~10^4-10^5 fragments; neighbouring lengths near the peak differ by a
# few percent, so the histogram mode may move a few bp from the simulated one.
FRAGMENT_MODE_TOL_BP = 5


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
