"""Draws that failed sample identity on the report pages (docs/qc.md): read from the QC
summary's identity columns through the same contract the stages use
(:mod:`plasmatrack.qc.identity_exclusion`), left out of a patient's trajectories and named in
red (a warnings block) on the patient and cohort pages."""

from __future__ import annotations

import pandas as pd

from ..qc.identity_exclusion import EXCLUSION_COLUMNS, left_out_samples


def left_out_draws(qc: pd.DataFrame | None) -> dict[str, str]:
    """{sample_id: reason} of the samples of ``qc`` (QC summary rows) that failed identity;
    ``{}`` when the run has no identity columns."""
    if qc is None or any(c not in qc for c in EXCLUSION_COLUMNS):
        return {}
    return left_out_samples(qc)


def without_left_out(df: pd.DataFrame | None, left_out: dict[str, str]) -> pd.DataFrame | None:
    """``df`` without the rows of left-out samples (``df`` itself when there are none)."""
    if df is None or not left_out or "sample_id" not in df:
        return df
    return df[~df["sample_id"].astype(str).isin(left_out)].reset_index(drop=True)


def left_out_warnings(left_out: dict[str, str]) -> list[str]:
    """One line per left-out sample, e.g. 'P01_D2 left out: failed identity (best match
    P02_D3): not used in trajectories, clones or cohort analyses'."""
    return [f"{s} {why}: not used in trajectories, clones or cohort analyses"
            for s, why in sorted(left_out.items())]
