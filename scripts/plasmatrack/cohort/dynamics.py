"""dynamics.tsv: the change from the baseline draw to the first on-treatment draw, ctDNA
clearance and the molecular response of every patient."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .burden import first_on_treatment, select_baseline, window_text
from .columns import DYNAMICS_COLUMNS
from .settings import CohortSettings


def dynamics_table(draws: pd.DataFrame, settings: CohortSettings = CohortSettings(),
                   patients: list[str] | None = None) -> pd.DataFrame:
    """dynamics.tsv: baseline vs first on-treatment draw per patient.

    Ratios are on/baseline (NA when the baseline value is 0); log2 folds use a pseudo-count
    (``tf_log_offset`` for TF, ``log_offset`` for the burden) so that a value of 0 stays finite.
    ctDNA clearance: ctDNA detected at baseline (copy-number TF detected or any somatic variant
    detected) and detected by neither on treatment. Molecular response (on
    ``response_metric``): clearance; response (ratio <= ``response_ratio``); progression
    (ratio >= ``progression_ratio``); stable otherwise; not_evaluable without a detected
    baseline or an on-treatment draw. Responders: clearance or response."""
    base = select_baseline(draws, settings.baseline_window_days).set_index("patient_id")
    on = first_on_treatment(draws, base.reset_index(), settings.on_treatment_window_days
                            ).set_index("patient_id")
    ids = sorted(patients) if patients is not None else sorted(draws["patient_id"].unique())
    base = base.reindex(ids)
    on = on.reindex(ids)
    out = pd.DataFrame({"patient_id": ids})
    out["baseline_sample_id"] = base["sample_id"].values
    out["baseline_day"] = base["timepoint_days"].astype("Int64").values
    out["on_treatment_sample_id"] = on["sample_id"].values
    out["on_treatment_day"] = on["timepoint_days"].astype("Int64").values
    for prefix, col, offset in (("tf", "tumour_fraction", settings.tf_log_offset),
                                ("her2_burden", "her2_burden", settings.log_offset)):
        _add_change(out, prefix, base[col].astype(float).values,
                    on[col].astype(float).values, offset)
    out["ctdna_detected_baseline"] = base["ctdna_detected"].astype("boolean").values
    out["ctdna_detected_on_treatment"] = on["ctdna_detected"].astype("boolean").values
    bd = out["ctdna_detected_baseline"]
    od = out["ctdna_detected_on_treatment"]
    clearance = (bd == True) & (od == False)  # noqa: E712 (nullable booleans)
    out["ctdna_clearance"] = clearance.where(bd.notna() & od.notna(), pd.NA).astype("boolean")
    responses = [_molecular_response(row, bd.iloc[i], bool(clearance.fillna(False).iloc[i]),
                                     settings)
                 for i, row in out.iterrows()]
    out["molecular_response"] = [category for category, _ in responses]
    responder = out["molecular_response"].isin(["clearance", "response"])
    out["molecular_responder"] = responder.astype("boolean").where(
        out["molecular_response"] != "not_evaluable", pd.NA)
    out["note"] = [note for _, note in responses]
    return out[DYNAMICS_COLUMNS]


def _add_change(out: pd.DataFrame, prefix: str, b: np.ndarray, o: np.ndarray,
                offset: float) -> None:
    """<prefix>_baseline, _on_treatment, _ratio (NA where the baseline is 0) and _log2_fold
    (with the pseudo-count ``offset``)."""
    out[f"{prefix}_baseline"] = b
    out[f"{prefix}_on_treatment"] = o
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"{prefix}_ratio"] = np.where(b > 0, o / b, np.nan)
        out[f"{prefix}_log2_fold"] = np.log2((o + offset) / (b + offset))


def _molecular_response(row: pd.Series, base_detected, cleared: bool,
                        settings: CohortSettings) -> tuple[str, str]:
    """The molecular response category of one patient's dynamics row, and the note on it."""
    ratio_col = "tf_ratio" if settings.response_metric == "tumour_fraction" else "her2_burden_ratio"
    note = []
    if pd.isna(row["baseline_sample_id"]):
        note.append("no baseline draw")
    if pd.isna(row["on_treatment_sample_id"]):
        note.append(f"no on-treatment draw ({window_text(settings.on_treatment_window_days)})")
    ratio = row[ratio_col]
    if note:
        category = "not_evaluable"
    elif pd.isna(base_detected) or not bool(base_detected):
        note.append("ctDNA not detected at baseline" if pd.notna(base_detected)
                    else "ctDNA detection at baseline unknown")
        category = "not_evaluable"
    elif cleared:
        category = "clearance"
    elif pd.isna(ratio):
        note.append(f"{ratio_col} not computable")
        category = "not_evaluable"
    elif ratio <= settings.response_ratio:
        category = "response"
    elif ratio >= settings.progression_ratio:
        category = "progression"
    else:
        category = "stable"
    return category, "; ".join(note)
