"""The baseline draw of every patient and her2_burden.tsv (its metrics, the primary burden and
the clinical columns), and the choice of draws by day window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import BURDEN_COLUMNS
from .settings import CohortSettings

CLINICAL_DROP = ("row",)


def _in_window(days: pd.Series, window: tuple[int | None, int | None]) -> pd.Series:
    lo, hi = window
    mask = days.notna()
    if lo is not None:
        mask &= days >= lo
    if hi is not None:
        mask &= days <= hi
    return mask.fillna(False).astype(bool)


def window_text(window: tuple[int | None, int | None]) -> str:
    lo, hi = window
    return f"day {'-inf' if lo is None else lo} to {'+inf' if hi is None else hi}"


def select_baseline(draws: pd.DataFrame, window: tuple[int | None, int | None]) -> pd.DataFrame:
    """Per patient, the baseline draw: the last draw inside ``window`` (inclusive days; default
    the last draw at or before day 0 and at most 90 days before). One row per patient of
    ``draws``; NA sample where no draw falls in the window."""
    inside = draws[_in_window(draws["timepoint_days"].astype("Float64"), window)]
    last = inside.sort_values(["patient_id", "timepoint_days"]).groupby("patient_id").tail(1)
    patients = pd.DataFrame({"patient_id": sorted(draws["patient_id"].unique())})
    return patients.merge(last, on="patient_id", how="left")


def first_on_treatment(draws: pd.DataFrame, baseline: pd.DataFrame,
                       window: tuple[int | None, int | None]) -> pd.DataFrame:
    """Per patient, the first draw inside the on-treatment ``window`` that is later than the
    baseline draw."""
    base_day = baseline.set_index("patient_id")["timepoint_days"]
    d = draws[_in_window(draws["timepoint_days"].astype("Float64"), window)].copy()
    d = d[d["timepoint_days"].astype(float) > d["patient_id"].map(base_day).astype(float)
          .fillna(-np.inf)]
    first = d.sort_values(["patient_id", "timepoint_days"]).groupby("patient_id").head(1)
    patients = pd.DataFrame({"patient_id": sorted(draws["patient_id"].unique())})
    return patients.merge(first, on="patient_id", how="left")


def prepare_clinical(clinical: pd.DataFrame | None) -> pd.DataFrame | None:
    if clinical is None:
        return None
    return clinical.drop(columns=[c for c in CLINICAL_DROP if c in clinical.columns])


def burden_table(draws: pd.DataFrame, clinical: pd.DataFrame | None,
                 settings: CohortSettings = CohortSettings(),
                 patients: list[str] | None = None) -> pd.DataFrame:
    """her2_burden.tsv: the baseline draw's metrics per patient, the primary burden, the
    high/low group (empty here: filled by
    :func:`plasmatrack.cohort.outcome.assign_burden_groups`) and the clinical columns."""
    base = select_baseline(draws, settings.baseline_window_days)
    if patients is not None:
        base = pd.DataFrame({"patient_id": sorted(patients)}).merge(base, on="patient_id",
                                                                    how="left")
    n_draws = draws.groupby("patient_id").size()
    out = base.rename(columns={"sample_id": "baseline_sample_id"})
    out["n_draws"] = out["patient_id"].map(n_draws).fillna(0).astype(int)
    out["her2_burden_metric"] = settings.metric
    notes = []
    clin = prepare_clinical(clinical)
    has_clinical = set(clin["patient_id"]) if clin is not None else set()
    for _, row in out.iterrows():
        parts = []
        if pd.isna(row["baseline_sample_id"]):
            parts.append(f"no plasma draw in the baseline window "
                         f"({window_text(settings.baseline_window_days)})")
        elif isinstance(row.get("note"), str) and row["note"]:
            parts.append(row["note"])
        if row["patient_id"] not in has_clinical:
            parts.append("no clinical row: left out of survival analyses")
        notes.append("; ".join(parts))
    out["note"] = notes
    if clin is not None:
        out = out.merge(clin, on="patient_id", how="left")
        # Where clinical data say which HER2 alteration the patient has and that component is
        # missing, a burden computed without it would be misleading: NA instead.
        if "her2_status" in out:
            status = out["her2_status"].astype(str)
            missing_mut = (status == "mutant") & out["erbb2_mutation_vaf"].isna()
            missing_amp = (status == "amplified") & out["erbb2_plasma_copy_number"].isna()
            if settings.metric == "altered_copies":
                out.loc[missing_mut | missing_amp, "her2_burden"] = np.nan
    out["her2_burden"] = out["her2_burden"].astype(float)
    out["in_survival"] = False
    out["her2_burden_group"] = pd.NA
    out["her2_burden_cutpoint"] = np.nan
    clinical_cols = [c for c in (clin.columns if clin is not None else []) if c != "patient_id"]
    ordered = BURDEN_COLUMNS
    for col in ordered:
        if col not in out:
            out[col] = pd.NA
    return out[ordered + [c for c in clinical_cols if c not in ordered]]
