"""Segmentation: one fixed method per config (haar by default, the same on every machine), cbs as
an opt-in that needs R + DNAcopy and says so when it is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv import DEFAULT_SEGMENT_METHOD
from plasmatrack.cnv import segment
from plasmatrack.errors import InputError


def _step_bins(seed: int = 3) -> pd.DataFrame:
    """200 bins on one chromosome: log2 0 for the first 120, +0.58 (3 copies) for the rest."""
    rng = np.random.default_rng(seed)
    n = 200
    log2 = np.where(np.arange(n) < 120, 0.0, 0.58) + rng.normal(0, 0.1, n)
    starts = np.arange(n) * 10_000
    return pd.DataFrame({"chromosome": "chr1", "start": starts, "end": starts + 10_000,
                         "gene": "-", "log2": log2, "depth": 100.0, "weight": 1.0})


def _breakpoints(table: pd.DataFrame) -> list[int]:
    return [int(e) for e in table["end"].iloc[:-1]]


def test_default_is_haar_and_finds_the_step():
    assert DEFAULT_SEGMENT_METHOD == "haar"
    table = segment.segment_bins(_step_bins(), "S1")
    assert table.attrs["method"] == "haar"
    assert len(table) == 2 and _breakpoints(table) == [1_200_000]
    assert table["log2"].iloc[1] - table["log2"].iloc[0] == pytest.approx(0.58, abs=0.05)


def test_auto_is_refused_and_names_the_choices():
    with pytest.raises(InputError, match="'auto' was removed.*haar"):
        segment.resolve_method("auto")


def test_cbs_without_r_fails_clearly(tmp_path):
    missing = str(tmp_path / "no-Rscript")
    with pytest.raises(InputError, match="needs Rscript with the DNAcopy package"):
        segment.resolve_method("cbs", rscript=missing)


def test_cbs_runs_with_r_and_agrees_with_haar():
    if not segment.dnacopy_available():
        pytest.skip("Rscript with DNAcopy is not installed; `make test` installs it")
    table = segment.segment_bins(_step_bins(), "S1", "cbs")
    assert table.attrs["method"] == "cbs"
    assert len(table) == 2 and _breakpoints(table) == [1_200_000]
