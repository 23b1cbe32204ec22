"""Residual disease per draw on the demo-like cohort (4 patients, seed 11), plasma-informed (the
demo has no tissue list): the published mrd_calls.tsv against the simulator's truth TF.

Demo draws sit between TF 0.003 and 0.4 with 5-14 variants per patient; each draw is tested
with the variants found in the patient's other draws, weighted by the clonal stage's CCF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack import tables

pytestmark = pytest.mark.slow


def check_mrd_against_truth(results, truth) -> None:
    """The assertions, on a run's results and truth folders (also run by hand on a kept run)."""
    calls = pd.read_csv(results / "mrd" / "mrd_calls.tsv", sep="\t", dtype={"sample_id": str})
    required = list(tables.MRD_CALLS.required)
    # identity runs on the demo's panel: `excluded` is appended, and no clean draw is left out
    assert list(calls.columns) in (required, required + ["excluded"])
    assert not calls.get("excluded", pd.Series(False, index=calls.index)).astype(bool).any()
    samples = pd.read_csv(truth / "samples.tsv", sep="\t", dtype={"sample_id": str})
    m = calls.merge(samples[["sample_id", "tumour_fraction"]].rename(
        columns={"tumour_fraction": "truth_tf"}), on="sample_id")
    plasma = samples[samples["sample_type"] == "plasma"]
    assert len(m) == len(plasma)
    assert calls["note"].str.contains("plasma-informed").all()
    evaluable = m[m["status"] != "not_evaluable"]
    # Every draw whose truth is well above its LoD95 is detected ...
    clear = evaluable[evaluable["truth_tf"] > 2 * evaluable["lod95"]]
    assert len(clear) >= 8 and (clear["status"] == "detected").all(), clear
    # ... with the TF within 2-fold of the truth (CCF-weighted variants).
    hits = evaluable[(evaluable["status"] == "detected") & (evaluable["truth_tf"] > 0)]
    ratio = hits["tumour_fraction"] / hits["truth_tf"]
    assert np.mean((ratio > 0.5) & (ratio < 2)) >= 0.9, hits
    # A draw not detected is one the LoD says could hide its TF.
    missed = evaluable[evaluable["status"] == "not_detected"]
    assert (missed["truth_tf"] < 2 * missed["lod95"]).all(), missed


def test_mrd_calls_against_truth(demo_run):
    check_mrd_against_truth(demo_run.results, demo_run.truth)
