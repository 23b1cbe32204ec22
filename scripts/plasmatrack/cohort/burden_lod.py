"""A baseline HER2 burden below the limit of detection, left-censored at the draw's LoD (issue
21): the sensitivity analysis beside today's zero.

When the pooled residual-disease call does not detect the baseline draw, its tumour DNA is below
the draw's LoD95 (``mrd_lod95_baseline``, a tumour fraction), so its HER2 burden is below
LoD95 x k, where k is the patient's HER2 burden per unit tumour fraction (ERBB2-altered copies
per tumour genome: CN - 2 for an amplified tumour, about the mutation's CCF for a heterozygous
ERBB2 mutation, their sum for both). An undetected draw cannot measure k, so it comes from the
patient's other draws: the median of ``her2_burden / tumour_fraction`` over the patient's draws
whose copy-number TF is detected (0 when every such draw shows no HER2 alteration: a
HER2-negative tumour hides no burden). A patient without such a draw takes the cohort's median k
over the patients with k > 0 (1, one altered copy per tumour genome, when no patient has one);
``mrd_her2_per_tf_source`` says which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.survival import SurvivalResults, continuous_cox
from .settings import ENDPOINTS, CohortSettings

# Appended to dynamics.tsv after the residual-disease columns.
BURDEN_LOD_COLUMNS = ["mrd_her2_per_tf", "mrd_her2_per_tf_source", "mrd_her2_burden_lod_baseline"]
OWN, COHORT, ASSUMED = "own draws", "cohort median", "assumed 1"
DETECTED, NOT_DETECTED = "detected", "not_detected"


def her2_per_tf(draws: pd.DataFrame) -> pd.Series:
    """Per patient (index), the median HER2 burden per unit tumour fraction over the draws whose
    copy-number TF is detected (and positive); patients without such a draw are absent."""
    tf = pd.to_numeric(draws["tumour_fraction"], errors="coerce")
    burden = pd.to_numeric(draws["her2_burden"], errors="coerce")
    detected = draws["tf_detected"].astype("boolean").fillna(False).astype(bool)
    usable = detected & (tf > 0) & burden.notna()
    ratio = (burden / tf)[usable]
    return ratio.groupby(draws.loc[usable, "patient_id"]).median()


def add_burden_lod(dynamics: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """dynamics (with the residual-disease columns) with BURDEN_LOD_COLUMNS appended: k, where
    it came from, and the burden the baseline draw could hide (LoD95 x k; NA without a pooled
    call at baseline)."""
    out = dynamics.copy()
    own = her2_per_tf(draws)
    positive = own[own > 0]
    fallback, fallback_source = ((float(positive.median()), COHORT) if len(positive)
                                 else (1.0, ASSUMED))
    k = out["patient_id"].map(own)
    out["mrd_her2_per_tf"] = k.fillna(fallback).astype(float)
    out["mrd_her2_per_tf_source"] = np.where(k.notna(), OWN, fallback_source)
    lod = pd.to_numeric(out["mrd_lod95_baseline"], errors="coerce")
    out["mrd_her2_burden_lod_baseline"] = lod * out["mrd_her2_per_tf"]
    return out[[*dynamics.columns, *BURDEN_LOD_COLUMNS]]


def baseline_call_frame(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                        columns: list[str], burden_columns: tuple[str, ...] = ()
                        ) -> pd.DataFrame | None:
    """The patients with outcome data and a pooled call at baseline: patient_id, the endpoint's
    time and event, ``burden_columns`` (non-missing), mrd_status_baseline and ``columns`` of
    dynamics; None when the tables lack them or fewer than two patients qualify."""
    time_col, event_col = ENDPOINTS[endpoint]
    if time_col not in burden or any(c not in dynamics for c in columns):
        return None
    df = burden[["patient_id", time_col, event_col, *burden_columns]].merge(
        dynamics[["patient_id", "mrd_status_baseline", *columns]], on="patient_id")
    keep = (df[time_col].notna() & df[event_col].notna()
            & df["mrd_status_baseline"].isin([DETECTED, NOT_DETECTED]))
    for col in burden_columns:
        keep &= df[col].notna()
    df = df[keep].copy()
    if len(df) < 2:
        return None
    df[time_col] = df[time_col].astype(float)
    df[event_col] = df[event_col].astype(int)
    return df


def zero_and_left_censored_cox(df: pd.DataFrame, endpoint: str, value: str, at_lod: str,
                               name: str, label: str, hows: tuple[str, str], log_offset: float,
                               settings: CohortSettings) -> SurvivalResults:
    """Two Cox models on log(``value`` + ``log_offset``): a baseline whose pooled call did not
    detect it at 0 (``<endpoint>_cox_<name>_zero``) and at ``at_lod``
    (``<endpoint>_cox_<name>_left_censored``); ``hows`` label the two conventions."""
    time_col, event_col = ENDPOINTS[endpoint]
    below = df["mrd_status_baseline"] == NOT_DETECTED
    measured = df[value].astype(float)
    frame = df.assign(_zero=measured.where(~below, 0.0),
                      _at_lod=measured.where(~below, df[at_lod].astype(float)))
    note = f"{int(below.sum())} of {len(df)} baselines below the LoD of the pooled call"
    results = SurvivalResults()
    for column, suffix, how in (("_zero", "zero", hows[0]), ("_at_lod", "left_censored", hows[1])):
        res = continuous_cox(frame, time_col, event_col, column, f"{endpoint}_cox_{name}_{suffix}",
                             endpoint, log=True, log_offset=log_offset,
                             settings=settings.survival, marker_label=f"{label} ({how})")
        for row in res.rows:
            row["note"] = "; ".join(filter(None, [row.get("note") or "", note]))
        results.extend(res)
    return results


def burden_lod_sensitivity(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                           settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Cox on the log baseline HER2 burden (+ ``log_offset``) of the patients with a pooled call
    at baseline: a burden below the LoD (pooled call not detected) at 0, today's convention,
    and, as the sensitivity analysis of its left-censoring, at the draw's LoD in burden units
    (``mrd_her2_burden_lod_baseline``)."""
    df = baseline_call_frame(burden, dynamics, endpoint, ["mrd_her2_burden_lod_baseline"],
                             ("her2_burden",))
    if df is None:
        return SurvivalResults()
    return zero_and_left_censored_cox(
        df, endpoint, "her2_burden", "mrd_her2_burden_lod_baseline", "her2_burden",
        "baseline HER2 burden", ("below the LoD = 0", "below the LoD = LoD95 x HER2 per unit TF"),
        settings.log_offset, settings)
