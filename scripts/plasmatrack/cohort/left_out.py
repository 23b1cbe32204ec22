"""Draws that failed sample identity (:mod:`plasmatrack.qc.identity_exclusion`) in the cohort
tables: kept in draw_metrics.tsv (``identity_exclusion.mark_left_out``), left out of the baseline
and on-treatment choice (her2_burden.tsv, dynamics.tsv, and so survival), whose patient notes
name them."""

from __future__ import annotations

import pandas as pd


def used_draws(draws: pd.DataFrame, left_out: dict[str, str] | None) -> pd.DataFrame:
    """The draws the patient-level analyses may use: all but those in ``left_out``."""
    if not left_out:
        return draws
    return draws[~draws["sample_id"].isin(left_out)].reset_index(drop=True)


def note_left_out(table: pd.DataFrame, draws: pd.DataFrame, left_out: dict[str, str]
                  ) -> pd.DataFrame:
    """``table`` (one row per patient, a ``note`` column) with each patient's left-out draws
    appended to its note: '<sample> left out: failed identity (best match ...)'."""
    out = table.copy()
    gone = draws[draws["sample_id"].isin(left_out)]
    text = gone.groupby("patient_id")["sample_id"].agg(
        lambda ids: "; ".join(f"{s} {left_out[s]}" for s in sorted(ids)))
    extra = out["patient_id"].map(text).fillna("")
    old = out["note"].fillna("").astype(str)
    out["note"] = [f"{o}; {e}" if o and e else (o or e) for o, e in zip(old, extra)]
    return out
