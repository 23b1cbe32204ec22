"""The published (combined) tumour fraction on two independently written generative regimes.

- the dilution series of ``plasmatrack simulate`` (seed 5: two tumours at TF 0 ... 0.4 and their
  normals);
- a ``plasmatrack simulate-capture`` cohort (``plasmatrack.capturesim``, written without reading
  the own simulator; seed 2: a focal-ERBB2-only tumour, an arm-level one and a genome-doubled
  one, each with a normal and two draws, one draw at TF 0).

Truth is the tumour's share of cfDNA genome copies (``benchmarks/accuracy_tf.truth_table``): what
depth ratios and allele fractions measure without the tumour's ploidy (for the genome-doubled
tumour it is above its share of cells). Issue 18's goals per regime: MAE <= 0.02 at true TF >=
0.05, >= 95 % of those draws detected, no normal and no TF-0 draw detected."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from accuracy_tf import truth_table  # noqa: E402

pytestmark = pytest.mark.slow


def _table(run, regime: str) -> pd.DataFrame:
    tf = pd.read_csv(run.results / "cnv" / "tumour_fraction.tsv", sep="\t",
                     dtype={"sample_id": str, "patient_id": str})
    return tf.merge(truth_table(regime, run.cohort), on="sample_id")


def _check(d: pd.DataFrame, max_mae: float) -> pd.DataFrame:
    plasma = d[d["sample_type"] == "plasma"]
    high = plasma[plasma["truth"] >= 0.05]
    free = d[(d["sample_type"] == "normal") | (d["truth"] == 0)]
    assert len(high) >= 4 and len(free) >= 3
    mae = (high["tumour_fraction"] - high["truth"]).abs().mean()
    assert mae <= max_mae, high[["sample_id", "truth", "tumour_fraction", "tf_method"]]
    assert high["tf_detected"].all(), high[["sample_id", "truth", "tf_p_value"]]
    assert not free["tf_detected"].any(), free[["sample_id", "tf_p_value"]]
    assert (free["tumour_fraction"] == 0).all()
    # Every estimate keeps its methods beside it and says which entered it.
    for col in ("tumour_fraction_cn", "tumour_fraction_snv", "tumour_fraction_baf",
                "tf_p_value", "tf_method"):
        assert col in d
    covered = (high["tf_lower"] <= high["truth"]) & (high["truth"] <= high["tf_upper"])
    assert covered.mean() >= 0.75
    return high


def test_combined_tumour_fraction_on_the_dilution_series(dilution_run):
    high = _check(_table(dilution_run, "dilution"), max_mae=0.02)
    # Both methods enter where both have evidence; the copy-number estimate is not worse than
    # before (its own test: test_cnv_truth.py).
    assert (high["tf_method"] == "cn+snv").all()


def test_combined_tumour_fraction_on_the_capture_regime(capture_run):
    d = _table(capture_run, "capture")
    high = _check(d, max_mae=0.02)
    # The focal-amplicon-only tumour: its copy-number fit covers a sliver of the genome and may
    # put any TF on it; it stays in its own column but does not set the published estimate.
    sliver = d[~d["tf_cn_informative"].astype(bool)]
    assert (~sliver["tf_method"].str.contains("cn")).all()
    assert len(high) >= 4
