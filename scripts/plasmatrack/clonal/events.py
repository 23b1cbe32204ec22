"""Clone events through treatment: emerging, expanding, declining, cleared.

Each cluster's prevalence (CCF) is read along the patient's informative draws in time order
(draws whose tumour fraction is ~0 say nothing about clone composition and are skipped). A
prevalence is *present* when its lower 95% bound exceeds ``present_min`` and *absent* when its
upper bound is below ``absent_max``; otherwise it is undetermined (e.g. a low-TF draw), which is
never called either way; a prevalence that is not present and whose most likely value
(posterior mode, ``prevalence_mode``; the mean where that column is absent) is below
``absent_max`` is *low* (not seen, though a low-TF draw cannot prove absence). Walking forward
from the first informative draw (the reference):

* emerging  - absent or low at the reference, present now (a resistance clone at progression;
  "present" already demands a lower bound above ``present_min``, so noise around zero does not
  qualify, while a baseline with no mutant fragment at modest depth, whose upper bound is wide,
  still counts as not seen);
* cleared   - present at the reference, absent or low now;
* expanding - present at both, risen by >= ``min_change`` with the two intervals apart;
* declining - present at both, fallen by >= ``min_change`` with the two intervals apart.

After an event the draw that showed it becomes the reference, so a clone that declines on
treatment and expands at progression gives both events. Draws are named ``baseline`` (the first
draw), ``progression`` (at or after treatment failure minus ``progression_window_days``, when the
patient had the event) or ``day N``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..config import schema_default
from ..units import DAYS_PER_MONTH



@dataclass
class EventSettings:
    """Thresholds of the clone events (config ``clonal.events``; defaults from the schema)."""

    present_min: float = schema_default("clonal.events.present_min")
    absent_max: float = schema_default("clonal.events.absent_max")
    min_change: float = schema_default("clonal.events.min_change")
    progression_window_days: float = schema_default("clonal.events.progression_window_days")


def timepoint_labels(days: list[float], ttf_days: float | None,
                     window_days: float = 28.0) -> list[str]:
    """Names of a patient's draws (sorted by day) for event descriptions: the first is
    "baseline"; of the later draws on or after ``ttf_days - window_days`` the one closest to the
    treatment-failure day is "progression"; the others are "day N"."""
    labels = ["baseline" if i == 0 else f"day {int(day)}" for i, day in enumerate(days)]
    if ttf_days is not None:
        late = [i for i, day in enumerate(days) if i > 0 and day >= ttf_days - window_days]
        if late:
            labels[min(late, key=lambda i: (abs(days[i] - ttf_days), i))] = "progression"
    return labels


def clone_events(prevalence: pd.DataFrame, labels: dict[int, str], genes: dict[int, str],
                 ttf_days: float | None = None,
                 settings: EventSettings | None = None) -> pd.DataFrame:
    """Events of one patient. ``prevalence``: rows of cluster_prevalence.tsv for the patient
    (cluster_id, sample_id, timepoint_days, prevalence, prevalence_lower, prevalence_upper,
    estimable); ``labels``/``genes``: per cluster, the marker text and its genes."""
    settings = settings or EventSettings()
    columns = ["cluster_id", "event", "sample_id", "timepoint_days", "timepoint_label",
               "reference_sample_id", "reference_timepoint_days", "prevalence_before",
               "prevalence_after", "genes", "label", "description"]
    draws = (prevalence[["sample_id", "timepoint_days"]].drop_duplicates()
             .sort_values("timepoint_days", kind="stable"))
    day_list = [float(d) for d in draws["timepoint_days"]]
    names = dict(zip(draws["sample_id"],
                     timepoint_labels(day_list, ttf_days, settings.progression_window_days)))
    rows = []
    for cid, grp in prevalence.groupby("cluster_id", sort=True):
        # Draws without tumour signal have no prevalence; wide intervals stay in (the interval
        # tests below are what keeps an uncertain draw from making an event).
        grp = grp[grp["prevalence"].notna()].sort_values("timepoint_days", kind="stable")
        if grp.empty:
            continue
        state = [_state(r, settings) for r in grp.itertuples()]
        ref = 0
        for j in range(1, len(grp)):
            a, b = grp.iloc[ref], grp.iloc[j]
            sa, sb = state[ref], state[j]
            event = None
            if sa in ("absent", "low") and sb == "present":
                event = "emerging"
            elif sa == "present" and sb in ("absent", "low"):
                event = "cleared"
            elif sa == "present" and sb == "present":
                if (b.prevalence - a.prevalence >= settings.min_change
                        and b.prevalence_lower > a.prevalence_upper):
                    event = "expanding"
                elif (a.prevalence - b.prevalence >= settings.min_change
                      and b.prevalence_upper < a.prevalence_lower):
                    event = "declining"
            if event is None:
                continue
            when = names.get(b.sample_id, f"day {int(b.timepoint_days)}")
            label = labels.get(int(cid), f"cluster {cid}")
            verb = {"emerging": "emerges", "cleared": "is cleared", "expanding": "expands",
                    "declining": "declines"}[event]
            desc = (f"{label} clone {verb} at {when}"
                    + (f" (day {int(b.timepoint_days)})" if when == "progression" else "")
                    + f": prevalence {_fmt(a)} at {names.get(a.sample_id, a.sample_id)}"
                    + f" -> {_fmt(b)}")
            rows.append({
                "cluster_id": int(cid), "event": event, "sample_id": b.sample_id,
                "timepoint_days": b.timepoint_days, "timepoint_label": when,
                "reference_sample_id": a.sample_id,
                "reference_timepoint_days": a.timepoint_days,
                "prevalence_before": a.prevalence, "prevalence_after": b.prevalence,
                "genes": genes.get(int(cid), ""), "label": label, "description": desc,
            })
            ref = j
    return pd.DataFrame(rows, columns=columns)


def _state(row, settings: EventSettings) -> str:
    if row.prevalence_lower > settings.present_min:
        return "present"
    if row.prevalence_upper < settings.absent_max:
        return "absent"
    point = getattr(row, "prevalence_mode", row.prevalence)
    if pd.isna(point):
        point = row.prevalence
    if point < settings.absent_max:
        return "low"
    return "undetermined"


def _fmt(row) -> str:
    return f"{row.prevalence:.2f} [{row.prevalence_lower:.2f}-{row.prevalence_upper:.2f}]"


def ttf_days_of(clinical: pd.DataFrame | None, patient: str) -> float | None:
    """Treatment-failure day of a patient who had the event (None if censored or unknown)."""
    if clinical is None or clinical.empty or "patient_id" not in clinical:
        return None
    row = clinical[clinical["patient_id"] == patient]
    if row.empty:
        return None
    r = row.iloc[0]
    event = r.get("ttf_event")
    months = r.get("ttf_months")
    if pd.isna(event) or int(event) != 1 or months is None or pd.isna(months):
        return None
    return float(months) * DAYS_PER_MONTH

