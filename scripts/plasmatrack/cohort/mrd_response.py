"""The residual-disease calls (``results/mrd/mrd_calls.tsv``) in the cohort tables: per-draw
detection by the pooled call and by copy number (appended to draw_metrics.tsv), each patient's
molecular response by the pooled call (appended to dynamics.tsv) and its landmark survival
analyses (rows of survival.tsv).

Molecular response by the pooled call, baseline draw vs first on-treatment draw (the dynamics
table's): ``clearance`` (detected at baseline, not detected on treatment); ``response`` (the
pooled TF fell to <= ``response_ratio`` of baseline, i.e. by >= 50 % with the default);
``rise`` (>= ``progression_ratio`` of baseline, or newly detected); ``stable`` otherwise;
``not_evaluable`` when either draw has no call or was not evaluable, or nothing was detected at
either draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.survival import SurvivalResults
from .burden_lod import baseline_call_frame, burden_lod_sensitivity, zero_and_left_censored_cox
from .outcome import LandmarkGrouping, landmark_groups
from .settings import CohortSettings

MRD_INPUT_COLUMNS = ("sample_id", "patient_id", "tumour_fraction", "lod95", "status")
# Appended to draw_metrics.tsv (after its columns).
DRAW_MRD_COLUMNS = ["mrd_status", "mrd_tumour_fraction", "mrd_lod95", "ctdna_detected_mrd_or_cn"]
# Appended to dynamics.tsv (after its columns).
DYNAMICS_MRD_COLUMNS = ["mrd_status_baseline", "mrd_status_on_treatment", "mrd_tf_baseline",
                        "mrd_tf_on_treatment", "mrd_lod95_baseline", "mrd_lod95_on_treatment",
                        "mrd_clearance", "mrd_response", "mrd_responder"]
DETECTED, NOT_DETECTED = "detected", "not_detected"


def add_draw_detection(draws: pd.DataFrame, calls: pd.DataFrame | None) -> pd.DataFrame:
    """draw_metrics with DRAW_MRD_COLUMNS appended: the pooled call of each draw and ctDNA
    detected by it or by copy number (``tf_detected``); NA where neither says."""
    out = draws.copy()
    by_id = (calls.set_index("sample_id") if calls is not None
             else pd.DataFrame(columns=list(MRD_INPUT_COLUMNS[1:])))
    out["mrd_status"] = out["sample_id"].map(by_id["status"])
    out["mrd_tumour_fraction"] = out["sample_id"].map(by_id["tumour_fraction"]).astype(float)
    out["mrd_lod95"] = out["sample_id"].map(by_id["lod95"]).astype(float)
    mrd = out["mrd_status"].map({DETECTED: True, NOT_DETECTED: False}).astype("boolean")
    cn = out["tf_detected"].astype("boolean")
    out["ctdna_detected_mrd_or_cn"] = (mrd | cn).astype("boolean")
    return out[[*draws.columns, *DRAW_MRD_COLUMNS]]


def _response(base_status, on_status, ratio: float, settings: CohortSettings) -> str:
    if base_status not in (DETECTED, NOT_DETECTED) or on_status not in (DETECTED, NOT_DETECTED):
        return "not_evaluable"
    if base_status == DETECTED and on_status == NOT_DETECTED:
        return "clearance"
    if base_status == NOT_DETECTED:
        return "rise" if on_status == DETECTED else "not_evaluable"
    if np.isfinite(ratio) and ratio <= settings.response_ratio:
        return "response"
    if np.isfinite(ratio) and ratio >= settings.progression_ratio:
        return "rise"
    return "stable"


def add_mrd_dynamics(dynamics: pd.DataFrame, calls: pd.DataFrame | None,
                     settings: CohortSettings = CohortSettings()) -> pd.DataFrame:
    """dynamics with DYNAMICS_MRD_COLUMNS appended (see the module docstring)."""
    out = dynamics.copy()
    by_id = (calls.set_index("sample_id") if calls is not None
             else pd.DataFrame(columns=list(MRD_INPUT_COLUMNS[1:])))
    for when, col in (("baseline", "baseline_sample_id"),
                      ("on_treatment", "on_treatment_sample_id")):
        out[f"mrd_status_{when}"] = out[col].map(by_id["status"])
        out[f"mrd_tf_{when}"] = out[col].map(by_id["tumour_fraction"]).astype(float)
        out[f"mrd_lod95_{when}"] = out[col].map(by_id["lod95"]).astype(float)
    base, on = out["mrd_status_baseline"], out["mrd_status_on_treatment"]
    cleared = (base == DETECTED) & (on == NOT_DETECTED)
    known = (base == DETECTED) & on.isin([DETECTED, NOT_DETECTED])
    out["mrd_clearance"] = cleared.astype("boolean").where(known, pd.NA)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = out["mrd_tf_on_treatment"] / out["mrd_tf_baseline"]
    out["mrd_response"] = [_response(b, o, float(r), settings)
                           for b, o, r in zip(base, on, ratio.fillna(np.nan))]
    responder = out["mrd_response"].isin(["clearance", "response"]).astype("boolean")
    out["mrd_responder"] = responder.where(out["mrd_response"] != "not_evaluable", pd.NA)
    return out[[*dynamics.columns, *DYNAMICS_MRD_COLUMNS]]


MRD_LANDMARK_GROUPINGS = (
    LandmarkGrouping("mrd_responder", "landmark_mrd_response", ("responder", "non-responder"),
                     "molecular response by the pooled call",
                     "pooled-call responder (clearance or >= 50 % fall) vs non-responder"),
    LandmarkGrouping("mrd_clearance", "landmark_mrd_clearance", ("cleared", "persistent"),
                     "clearance by the pooled call",
                     "cleared vs persistent (detected at baseline by the pooled call)"),
)


def mrd_landmark_analyses(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                          settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Landmark analyses by the pooled call, with the landmark and patients of the copy-number
    molecular response: responders (clearance or >= 50 % fall) vs the rest, and clearance vs
    persistence among the patients detected at baseline."""
    results = SurvivalResults()
    if "mrd_responder" not in dynamics:
        return results
    for spec in MRD_LANDMARK_GROUPINGS:
        results.extend(landmark_groups(burden, dynamics, endpoint, spec, settings)[0])
    results.extend(baseline_lod_sensitivity(burden, dynamics, endpoint, settings))
    results.extend(burden_lod_sensitivity(burden, dynamics, endpoint, settings))
    return results


def baseline_lod_sensitivity(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                             settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Cox on the log baseline pooled TF with an undetected baseline taken as 0 (today's
    convention, + ``tf_log_offset``) and, as the sensitivity analysis of its left-censoring,
    at the draw's LoD95 (the largest TF the draw could have hidden)."""
    df = baseline_call_frame(burden, dynamics, endpoint, ["mrd_tf_baseline", "mrd_lod95_baseline"])
    if df is None:
        return SurvivalResults()
    return zero_and_left_censored_cox(df, endpoint, "mrd_tf_baseline", "mrd_lod95_baseline",
                                      "mrd_tf", "baseline pooled TF",
                                      ("undetected = 0", "undetected = its LoD95"),
                                      settings.tf_log_offset, settings)
