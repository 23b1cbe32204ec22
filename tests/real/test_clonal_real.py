"""The clonal model on real public data in ../shared/data: PyClone's mixing experiment (truth =
the individual each variant comes from) and PyClone-VI's TRACERx example (robustness only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from plasmatrack.clonal.pipeline import run_pyclone

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.real


def _need(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (see ../shared/data/README.md)")
    return path


def test_mixing_experiment_recovers_the_four_individuals(tmp_path):
    files = sorted(_need("pyclone_mixing").glob("*.tsv"))
    res = run_pyclone(files, tmp_path)
    table = pd.read_csv(tmp_path / "pyclone_vi_results.tsv", sep="\t").drop_duplicates(
        "mutation_id")
    assert len(table) == 144  # every variant, also the 11 missing from some samples
    truth = table["mutation_id"].str.split(":").str[0]
    score = adjusted_rand_score(truth, table["cluster_id"])
    assert score >= 0.9  # measured 0.983 (docs/clonal.md)
    # the four big clusters are the individuals; their prevalences are the mixing proportions,
    # which add up to ~1 in every sample (each cluster's CCF = the individual's DNA fraction)
    big = res["result"].sizes >= 20
    assert big.sum() == 4
    sums = res["result"].prevalence[big].sum(axis=0)
    np.testing.assert_allclose(sums, 1.0, atol=0.08)
    # four unrelated genomes: the only tree under the sum rule has them side by side
    assert res["tree"].valid and res["tree"].parents == [None] * 4
    # the variants that fit no individual (sites shared by two genomes) are flagged outliers
    outliers = [f for f in res["result"].flags if "outlier" in f]
    assert 1 <= len(outliers) <= 8


def test_tracerx_example_runs_to_completion(tmp_path):
    path = _need("pyclone_vi_tracerx") / "tracerx.tsv"
    res = run_pyclone([path], tmp_path)
    out = pd.read_csv(tmp_path / "pyclone_vi_results.tsv", sep="\t")
    assert out["mutation_id"].nunique() == 2458
    assert len(out) == 2458 * 3
    assert out["cellular_prevalence"].between(0, 1).all()
    assert out["cluster_assignment_prob"].between(0, 1).all()
    r = res["result"]
    assert 2 <= r.k <= 10
    assert np.isfinite(r.loglik)
    # a clonal cluster (CCF ~1 in all three regions) holds the trunk
    assert (r.prevalence[0] > 0.9).all()
