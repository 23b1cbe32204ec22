"""Survival statistics on any table: Kaplan-Meier with log-rank, cut-points on a continuous marker
(pre-specified, median, or maximally selected log-rank statistics with an adjusted p-value), Cox
proportional hazards with concordance and a proportional-hazards check, and rank tests of a marker
across ordered response categories.

Everything here is assay-agnostic: it works on plain columns (time, event, marker or group,
covariates) so the same code serves the pipeline's HER2 burden analysis (``plasmatrack.cohort``),
the standalone ``plasmatrack survival`` command and tables imported from other assays.

Conventions: ``event`` is 1 for an event (treatment failure, progression, death) and 0 for
censoring; times are in the table's unit (months in the pipeline); a marker split puts
``marker <= cutpoint`` in the "low" group and ``marker > cutpoint`` in the "high" group (as R's
maxstat); hazard ratios are of the non-reference group against the reference (``low`` for a
marker split). ``p_value_adjusted`` is always the p-value to quote: equal to ``p_value`` where
nothing was selected from the data, the selection-adjusted value for a maximally selected cut."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..io import write_tsv
from ..sheets import EVALUABLE_RESPONSES
from ..units import nice_step
from .maxstat import MaxstatResult, maxstat_test

# Exact column order of results/cohort/survival.tsv (issue 6), then our additions.
SURVIVAL_COLUMNS = [
    "analysis", "endpoint", "n", "events", "grouping", "cutpoint", "statistic", "p_value",
    "p_value_adjusted", "hazard_ratio", "hr_lower", "hr_upper", "concordance",
]
EXTRA_COLUMNS = [
    "test", "adjustment", "p_value_lausen94", "p_value_lausen92", "p_value_permutation",
    "p_value_gauss",
    "permutations", "ph_test_p", "groups", "median_survival", "median_lower", "median_upper",
    "cut_selection", "primary", "small_cohort", "note",
]
# cut_selection of a marker split: a cut fixed before the outcomes are looked at (a value, or the
# marker's median) or one chosen from the data by the outcomes (maxstat: exploratory, its p is
# the selection-adjusted one).
PRE_SPECIFIED = "pre-specified"
DATA_CHOSEN = "data-chosen"
KM_CURVES_COLUMNS = [
    "analysis", "endpoint", "group", "time", "survival", "ci_lower", "ci_upper", "at_risk",
    "events", "censored",
]
KM_AT_RISK_COLUMNS = ["analysis", "endpoint", "group", "time", "at_risk"]
COX_TERMS_COLUMNS = [
    "analysis", "endpoint", "term", "hazard_ratio", "hr_lower", "hr_upper", "p_value", "z",
    "ph_test_p",
]
MAXSTAT_CUTS_COLUMNS = ["analysis", "endpoint", "cutpoint", "statistic", "selected"]
RESPONSE_ORDER = EVALUABLE_RESPONSES  # NE (not evaluable) is left out of response comparisons

# Fewer events than this per model term (or per compared group) and a result is flagged as
# coming from a small cohort (the usual 10 events-per-variable rule for Cox models).
DEFAULT_MIN_EVENTS_PER_TERM = 10
# A fitted log hazard ratio beyond this (HR > 22,000 or < 1/22,000), or a standard error beyond
# MAX_SE_LOG_HR, means the partial likelihood has no finite maximum.
MAX_ABS_LOG_HR = 10.0
MAX_SE_LOG_HR = 20.0
# A compared group smaller than this makes a log-rank / KM comparison "small" as well.
DEFAULT_MIN_GROUP_SIZE = 5


@dataclass
class SurvivalResults:
    """Tables produced by an analysis run; ``write`` puts them in a folder (all TSV)."""

    rows: list[dict] = field(default_factory=list)
    curves: list[pd.DataFrame] = field(default_factory=list)
    at_risk: list[pd.DataFrame] = field(default_factory=list)
    terms: list[pd.DataFrame] = field(default_factory=list)
    cuts: list[pd.DataFrame] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: "SurvivalResults") -> None:
        self.rows += other.rows
        self.curves += other.curves
        self.at_risk += other.at_risk
        self.terms += other.terms
        self.cuts += other.cuts
        self.warnings += other.warnings

    def table(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        for col in SURVIVAL_COLUMNS + EXTRA_COLUMNS:
            if col not in df:
                df[col] = pd.NA
        return df[SURVIVAL_COLUMNS + EXTRA_COLUMNS]

    @staticmethod
    def _cat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

    def curve_table(self) -> pd.DataFrame:
        return self._cat(self.curves, KM_CURVES_COLUMNS)

    def at_risk_table(self) -> pd.DataFrame:
        return self._cat(self.at_risk, KM_AT_RISK_COLUMNS)

    def term_table(self) -> pd.DataFrame:
        return self._cat(self.terms, COX_TERMS_COLUMNS)

    def cut_table(self) -> pd.DataFrame:
        return self._cat(self.cuts, MAXSTAT_CUTS_COLUMNS)


# --------------------------------------------------------------------------- helpers

def _fmt(value: float) -> str:
    return f"{value:.4g}"


def small_cohort_note(events: int, terms: int = 1, smallest_group: int | None = None,
                      min_events_per_term: int = DEFAULT_MIN_EVENTS_PER_TERM,
                      min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> str:
    """Why a result should be read as exploratory, or '' when the cohort is large enough."""
    reasons = []
    if events < min_events_per_term * max(terms, 1):
        reasons.append(
            f"{events} events for {terms} model term(s) (< {min_events_per_term} per term)"
        )
    if smallest_group is not None and smallest_group < min_group_size:
        reasons.append(f"smallest group has {smallest_group} patients (< {min_group_size})")
    if not reasons:
        return ""
    return ("small cohort: " + "; ".join(reasons)
            + ": effect sizes are imprecise, treat p-values as exploratory")


def complete_cases(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """Rows with every one of ``columns`` present, and how many rows were dropped."""
    mask = df[columns].notna().all(axis=1)
    return df.loc[mask].copy(), int((~mask).sum())


def check_survival_columns(df: pd.DataFrame, time_col: str, event_col: str,
                           source: str = "table") -> pd.DataFrame:
    """Coerce ``time_col`` to float and ``event_col`` to 0/1 ints; raise InputError naming the
    rows (1-based data rows + header = line numbers) that are not valid."""
    problems = []
    for col in (time_col, event_col):
        if col not in df.columns:
            problems.append(f"{source}: column '{col}' not found (columns: "
                            f"{', '.join(map(str, df.columns))})")
    if problems:
        raise InputError(problems)
    out = df.copy()
    time = pd.to_numeric(out[time_col], errors="coerce")
    bad_time = out[time_col].notna() & time.isna()
    event = pd.to_numeric(out[event_col], errors="coerce")
    bad_event = (out[event_col].notna() & event.isna()) | (event.notna() & ~event.isin([0, 1]))
    for idx in out.index[bad_time][:10]:
        problems.append(f"{source}, row {_line(out, idx)}, column '{time_col}': "
                        f"{out.at[idx, time_col]!r} is not a number")
    for idx in out.index[bad_event][:10]:
        problems.append(f"{source}, row {_line(out, idx)}, column '{event_col}': "
                        f"{out.at[idx, event_col]!r} is not an event flag (1 = event, "
                        "0 = censored)")
    if problems:
        raise InputError(problems)
    out[time_col] = time.astype(float)
    out[event_col] = event.astype("Int64")
    return out


def _line(df: pd.DataFrame, idx) -> int:
    """Line number in the source file of a row (header on line 1), when the index is positional."""
    try:
        return int(df.index.get_loc(idx)) + 2
    except (KeyError, TypeError):
        return -1


# --------------------------------------------------------------------------- Kaplan-Meier

def km_curves(time: pd.Series, event: pd.Series, groups: pd.Series | None, analysis: str,
              endpoint: str, alpha: float = 0.05,
              at_risk_times: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Kaplan-Meier estimates per group (lifelines; exponential Greenwood 95% intervals).

    Returns the curve points (one row per distinct time incl. 0: survival just after the time,
    the interval, the number at risk just before it, events and censorings at it), the numbers
    at risk at ``at_risk_times`` (default: 6 evenly spaced ticks) and the median survival per
    group (NaN when not reached)."""
    from lifelines import KaplanMeierFitter

    if groups is None:
        groups = pd.Series("all", index=time.index)
    frames, risk_frames, medians = [], [], {}
    tmax = float(time.max()) if len(time) else 0.0
    if at_risk_times is None:
        step = nice_step(tmax / 5) if tmax > 0 else 1.0
        at_risk_times = np.arange(0, tmax + step * 0.5, step)
    for level in sorted(groups.dropna().unique(), key=str):
        mask = groups == level
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(time[mask].astype(float), event[mask].astype(int), label=str(level))
        table = kmf.event_table
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        frames.append(pd.DataFrame({
            "analysis": analysis, "endpoint": endpoint, "group": str(level),
            "time": table.index.values.astype(float),
            "survival": sf.reindex(table.index).values,
            "ci_lower": ci.iloc[:, 0].reindex(table.index).values,
            "ci_upper": ci.iloc[:, 1].reindex(table.index).values,
            "at_risk": table["at_risk"].values.astype(int),
            "events": table["observed"].values.astype(int),
            "censored": table["censored"].values.astype(int),
        }))
        t_sorted = np.sort(time[mask].astype(float).values)
        risk_frames.append(pd.DataFrame({
            "analysis": analysis, "endpoint": endpoint, "group": str(level),
            "time": at_risk_times,
            "at_risk": [int(len(t_sorted) - np.searchsorted(t_sorted, t, side="left"))
                        for t in at_risk_times],
        }))
        med = kmf.median_survival_time_
        medians[str(level)] = float(med) if np.isfinite(med) else float("nan")
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=KM_CURVES_COLUMNS),
            pd.concat(risk_frames, ignore_index=True) if risk_frames
            else pd.DataFrame(columns=KM_AT_RISK_COLUMNS),
            medians)


def median_with_ci(time: pd.Series, event: pd.Series, alpha: float = 0.05
                   ) -> tuple[float, float, float]:
    """Kaplan-Meier median survival and its (1 - alpha) interval (lifelines: the times where
    the exponential Greenwood band of the curve crosses 0.5, Brookmeyer-Crowley style); NaN
    where not reached."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter(alpha=alpha).fit(time.astype(float), event.astype(int))
    ci = median_survival_times(kmf.confidence_interval_).iloc[0]
    return tuple(float(v) if np.isfinite(v) else float("nan")
                 for v in (kmf.median_survival_time_, ci.iloc[0], ci.iloc[1]))


def format_group_values(values: dict[str, float]) -> str:
    """'high=3.2;low=NR': the per-group form of median_survival, median_lower, median_upper
    (NR: not reached)."""
    return ";".join(f"{k}={'NR' if np.isnan(v) else _fmt(v)}" for k, v in values.items())


def parse_group_values(text) -> dict[str, float]:
    """The inverse of :func:`format_group_values` (NR and empty values as NaN)."""
    out: dict[str, float] = {}
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return out
    for part in str(text).split(";"):
        if "=" in part:
            key, value = part.rsplit("=", 1)
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = float("nan")
    return out


def overall_km(df: pd.DataFrame, time_col: str, event_col: str, analysis: str, endpoint: str,
               settings: "SurvivalSettings | None" = None) -> "SurvivalResults":
    """One row for all patients: n, events and the median with its interval (no test)."""
    out = SurvivalResults()
    alpha = settings.alpha if settings is not None else 0.05
    time, event = df[time_col].astype(float), df[event_col].astype(int)
    row = {"analysis": analysis, "endpoint": endpoint, "n": int(len(df)),
           "events": int(event.sum()), "grouping": "all patients", "test": "Kaplan-Meier",
           "groups": f"all={len(df)}"}
    notes = []
    if len(df):
        med, lo, hi = median_with_ci(time, event, alpha)
        row.update(median_survival=format_group_values({"all": med}),
                   median_lower=format_group_values({"all": lo}),
                   median_upper=format_group_values({"all": hi}))
    if row["events"] == 0:
        notes.append("no events: median not reached, not estimable")
    # a median from few events is as imprecise as a model term fitted on them
    small = small_cohort_note(row["events"], 1, None,
                              settings.min_events_per_term if settings is not None
                              else DEFAULT_MIN_EVENTS_PER_TERM)
    return _add_row(out, row, notes, small)


def logrank(time: pd.Series, event: pd.Series, groups: pd.Series) -> tuple[float, float]:
    """Log-rank test across the groups (chi-square statistic with k-1 df, p-value)."""
    from lifelines.statistics import multivariate_logrank_test

    result = multivariate_logrank_test(time.astype(float), groups.astype(str), event.astype(int))
    return float(result.test_statistic), float(result.p_value)


# --------------------------------------------------------------------------- Cox

@dataclass
class CoxFit:
    """A fitted Cox model reduced to what the tables need."""

    terms: pd.DataFrame  # term, hazard_ratio, hr_lower, hr_upper, p_value, z, ph_test_p
    concordance: float
    n: int
    events: int
    note: str = ""

    @property
    def ph_min_p(self) -> float:
        values = self.terms["ph_test_p"].dropna()
        return float(values.min()) if len(values) else float("nan")


def design_matrix(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numeric design columns for a Cox model: numeric columns as they are, text columns
    one-hot coded against their most frequent level (named ``column=level``)."""
    parts = []
    for col in columns:
        values = df[col]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() == values.notna().sum() and values.dtype != bool:
            parts.append(numeric.astype(float).rename(col))
            continue
        text = values.astype(str)
        counts = text.value_counts()
        reference = sorted(counts[counts == counts.max()].index)[0]
        for level in sorted(set(text) - {reference}):
            parts.append((text == level).astype(float).rename(f"{col}={level}"))
    if not parts:
        return pd.DataFrame(index=df.index)
    return pd.concat(parts, axis=1)


def fit_cox(time: pd.Series, event: pd.Series, design: pd.DataFrame, alpha: float = 0.05,
            ph_check: bool = True) -> CoxFit:
    """Cox proportional hazards (lifelines, Efron ties) of ``design``'s columns. The
    proportional-hazards check is the Grambsch-Therneau test on scaled Schoenfeld residuals
    against rank(time) (lifelines ``proportional_hazard_test``), p per term. Raises ValueError
    when the model cannot be estimated (no events, a constant column, no convergence)."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import proportional_hazard_test

    df = design.copy()
    df["_time"] = time.astype(float).values
    df["_event"] = event.astype(int).values
    n_events = int(df["_event"].sum())
    if n_events == 0:
        raise ValueError("no events")
    constant = [c for c in design.columns if design[c].nunique() < 2]
    if constant:
        raise ValueError(f"constant column(s): {', '.join(constant)}")
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter(alpha=alpha).fit(df, duration_col="_time", event_col="_event")
        except ConvergenceError as exc:
            raise ValueError(f"Cox model did not converge ({str(exc).splitlines()[0]})") from None
    for w in caught:
        text = str(w.message).strip().splitlines()[0]
        if "convergence" in text.lower() or "separation" in text.lower():
            notes.append(f"Cox fit warning: {text}")
    summary = cph.summary
    diverged = summary.index[(summary["coef"].abs() > MAX_ABS_LOG_HR)
                             | ~np.isfinite(summary["se(coef)"])
                             | (summary["se(coef)"] > MAX_SE_LOG_HR)]
    if len(diverged):
        # Monotone partial likelihood (complete or quasi-complete separation, typical of tiny
        # cohorts): the maximum is at infinity and any finite number lifelines returns is noise.
        raise ValueError(f"monotone likelihood for {', '.join(map(str, diverged))} (complete or "
                         "quasi-complete separation): the hazard ratio is not finite")
    level = int(round((1 - alpha) * 100))
    terms = pd.DataFrame({
        "term": summary.index.astype(str),
        "hazard_ratio": summary["exp(coef)"].values,
        "hr_lower": summary[f"exp(coef) lower {level}%"].values,
        "hr_upper": summary[f"exp(coef) upper {level}%"].values,
        "p_value": summary["p"].values,
        "z": summary["z"].values,
    })
    terms["ph_test_p"] = np.nan
    if ph_check and n_events >= 3:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ph = proportional_hazard_test(cph, df, time_transform="rank")
            ph_p = ph.summary["p"]
            terms["ph_test_p"] = [float(ph_p.get(t, np.nan)) for t in terms["term"]]
        except Exception as exc:  # lifelines raises a variety of numeric errors on tiny data
            notes.append(f"proportional-hazards check not computed ({type(exc).__name__})")
    ph_min = terms["ph_test_p"].min()
    if pd.notna(ph_min) and ph_min < 0.05:
        notes.append(f"proportional-hazards assumption questionable (Grambsch-Therneau p = "
                     f"{_fmt(ph_min)})")
    return CoxFit(terms=terms, concordance=float(cph.concordance_index_), n=len(df),
                  events=n_events, note="; ".join(notes))


# --------------------------------------------------------------------------- cut-points

@dataclass
class Split:
    """A marker split into low (<= cutpoint) / high (> cutpoint)."""

    method: str  # "median", "maxstat" or "value"
    cutpoint: float
    groups: pd.Series  # "low"/"high" per row
    maxstat: MaxstatResult | None = None


def parse_cutpoint(value: str | float | int | None) -> str | float:
    """'median', 'maxstat' or a number (given as text or number)."""
    if value is None:
        return "median"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    if text in ("median", "maxstat"):
        return text
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"cut-point {value!r}: use 'median', 'maxstat' or a number"
        ) from None


def split_marker(marker: pd.Series, time: pd.Series | None, event: pd.Series | None,
                 cutpoint: str | float = "median", min_prop: float = 0.1,
                 permutations: int = 0, seed: int = 1) -> Split:
    """Split ``marker`` at a pre-specified value, the median, or the maximally selected log-rank
    cut (lower group between ``min_prop`` and 1 - ``min_prop`` of the patients; needs ``time``
    and ``event``, which the other methods ignore)."""
    method = parse_cutpoint(cutpoint)
    values = marker.astype(float)
    result = None
    if method == "median":
        cut = float(np.median(values))
        label = "median"
    elif method == "maxstat":
        if time is None or event is None:
            raise ValueError("a maximally selected cut-point needs survival times and events")
        result = maxstat_test(time.values, event.values, values.values, min_prop=min_prop,
                              permutations=permutations, seed=seed)
        cut = result.cutpoint
        label = "maxstat"
    else:
        cut = float(method)
        label = "value"
    groups = pd.Series(np.where(values > cut, "high", "low"), index=marker.index)
    return Split(method=label, cutpoint=cut, groups=groups, maxstat=result)


# --------------------------------------------------------------------------- analyses

@dataclass(frozen=True)
class SurvivalSettings:
    """Settings shared by every analysis of a run (the statistics keys of the ``cohort`` config
    section; ``plasmatrack survival`` builds them from its options)."""

    min_prop: float = 0.1
    permutations: int = 2000
    seed: int = 1
    # which p fills p_value_adjusted: gauss, lausen94, lausen92, permutation
    maxstat_p: str = "gauss"
    min_events_per_term: int = DEFAULT_MIN_EVENTS_PER_TERM
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    alpha: float = 0.05

    @classmethod
    def from_config(cls, section: dict | None) -> "SurvivalSettings":
        """From a config section holding these keys among others (the ``cohort`` section);
        keys of other settings are left to their own classes."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (section or {}).items() if k in known})


def group_comparison(df: pd.DataFrame, time_col: str, event_col: str, groups: pd.Series,
                     analysis: str, endpoint: str, grouping: str,
                     reference: str | None = None, covariates: list[str] | None = None,
                     settings: SurvivalSettings = SurvivalSettings(),
                     cutpoint: float | None = None) -> SurvivalResults:
    """KM curves + log-rank across ``groups``, and a Cox model of group (vs ``reference``;
    default: the first level in sorted order), optionally adjusted for ``covariates``. One row
    in survival.tsv; the hazard ratio is filled when there are exactly two groups."""
    out = SurvivalResults()
    time, event = df[time_col].astype(float), df[event_col].astype(int)
    labels = groups.astype(str)
    levels = sorted(groups.dropna().astype(str).unique())
    sizes = labels.value_counts()
    row = {"analysis": analysis, "endpoint": endpoint, "n": int(len(df)),
           "events": int(event.sum()), "grouping": grouping, "cutpoint": cutpoint,
           "test": "log-rank", "adjustment": "none",
           "groups": ";".join(f"{lvl}={int(sizes.get(lvl, 0))}" for lvl in levels)}
    if len(levels) < 2:
        row["note"] = f"not estimable: only one group ({', '.join(levels) or 'none'})"
        row["small_cohort"] = True
        out.rows.append(row)
        return out
    notes = _km_logrank(out, row, time, event, labels, settings)
    reference = reference if reference is not None else levels[0]
    if reference not in levels:
        raise InputError(f"reference group {reference!r} is not one of: {', '.join(levels)}")
    covariates = list(covariates or [])
    design, n_indicators = _group_design(df, labels, levels, reference, grouping, covariates)
    try:
        fit = _fit_group_cox(time, event, labels, levels, design, settings.alpha)
    except ValueError as exc:
        notes.append(f"Cox model not estimable: {exc}")
        n_terms = n_indicators
    else:
        _record_cox(out, row, notes, fit, n_indicators, covariates)
        n_terms = design.shape[1]
    small = small_cohort_note(row["events"], n_terms, int(sizes.min()),
                              settings.min_events_per_term, settings.min_group_size)
    return _add_row(out, row, notes, small)


def _add_row(out: SurvivalResults, row: dict, notes: list[str], small: str) -> SurvivalResults:
    """Append ``row`` to ``out`` with its small-cohort flag and notes (the reason first)."""
    if small:
        notes.insert(0, small)
    row["small_cohort"] = bool(small)
    row["note"] = "; ".join(notes)
    out.rows.append(row)
    return out


def _km_logrank(out: SurvivalResults, row: dict, time: pd.Series, event: pd.Series,
                labels: pd.Series, settings: SurvivalSettings) -> list[str]:
    """KM curves and medians per group into ``out``/``row``, the log-rank test into ``row``;
    returns the notes so far."""
    curves, risk, medians = km_curves(time, event, labels, row["analysis"], row["endpoint"],
                                      alpha=settings.alpha)
    out.curves.append(curves)
    out.at_risk.append(risk)
    row["median_survival"] = format_group_values(medians)
    cis = {k: median_with_ci(time[labels == k], event[labels == k], settings.alpha)
           for k in medians}
    row["median_lower"] = format_group_values({k: v[1] for k, v in cis.items()})
    row["median_upper"] = format_group_values({k: v[2] for k, v in cis.items()})
    if row["events"] > 0:
        chi2, p = logrank(time, event, labels)
        row.update(statistic=chi2, p_value=p, p_value_adjusted=p)
        return []
    return ["no events: log-rank test not computed"]


def _group_design(df: pd.DataFrame, labels: pd.Series, levels: list[str], reference: str,
                  grouping: str, covariates: list[str]) -> tuple[pd.DataFrame, int]:
    """Cox design: an indicator per non-reference group (named ``grouping=level``), then the
    covariates; and the number of indicators."""
    indicator = pd.DataFrame({
        f"{grouping}={lvl}": (labels == lvl).astype(float)
        for lvl in levels if lvl != reference
    }, index=df.index)
    return pd.concat([indicator, design_matrix(df, covariates)], axis=1), indicator.shape[1]


def _fit_group_cox(time: pd.Series, event: pd.Series, labels: pd.Series, levels: list[str],
                   design: pd.DataFrame, alpha: float) -> CoxFit:
    """:func:`fit_cox` of a group design; ValueError when a group has no event."""
    events_by_group = event.groupby(labels.values).sum()
    no_events = [lvl for lvl in levels if events_by_group.get(lvl, 0) == 0]
    if no_events:
        # The partial likelihood has no finite maximum (complete separation): lifelines
        # would return an arbitrary huge HR.
        raise ValueError(f"no events in group(s) {', '.join(no_events)}: the hazard ratio "
                         "is not finite (complete separation)")
    return fit_cox(time, event, design, alpha=alpha)


def _record_cox(out: SurvivalResults, row: dict, notes: list[str], fit: CoxFit,
                n_indicators: int, covariates: list[str]) -> None:
    """A group Cox fit into the term table and the row (the HR when there are two groups)."""
    out.terms.append(fit.terms.assign(analysis=row["analysis"], endpoint=row["endpoint"]))
    row["concordance"] = fit.concordance
    row["ph_test_p"] = fit.terms["ph_test_p"].iloc[:n_indicators].min()
    if n_indicators == 1:
        first = fit.terms.iloc[0]
        row.update(hazard_ratio=first["hazard_ratio"], hr_lower=first["hr_lower"],
                   hr_upper=first["hr_upper"])
    if fit.note:
        notes.append(fit.note)
    if covariates:
        row["adjustment"] = "Cox adjusted for " + ", ".join(covariates)


def marker_split_analysis(df: pd.DataFrame, time_col: str, event_col: str, marker_col: str,
                          analysis: str, endpoint: str, cutpoint: str | float = "median",
                          covariates: list[str] | None = None,
                          settings: SurvivalSettings = SurvivalSettings(),
                          marker_label: str | None = None, reference: str = "low"
                          ) -> tuple[SurvivalResults, Split | None]:
    """High vs low ``marker`` (see :func:`split_marker`), KM + log-rank + Cox (high vs low).
    For a maximally selected cut, ``p_value`` is the naive log-rank p at the chosen cut and
    ``p_value_adjusted`` the selection-adjusted one (``settings.maxstat_p``, the exact Gaussian
    p by default), with the others beside it; the standardised statistic at every candidate cut
    goes to the cut table."""
    label = marker_label or marker_col
    try:
        split = split_marker(df[marker_col], df[time_col], df[event_col], cutpoint,
                             settings.min_prop, settings.permutations, settings.seed)
    except ValueError as exc:
        out = SurvivalResults()
        out.rows.append({"analysis": analysis, "endpoint": endpoint, "n": len(df),
                         "events": int(df[event_col].sum()), "grouping": f"{label} split",
                         "test": "log-rank", "small_cohort": True,
                         "note": f"not estimable: {exc}"})
        return out, None
    grouping = f"{label} > {_fmt(split.cutpoint)} ({split.method})"
    if reference not in ("low", "high"):
        raise InputError(f"reference group of a marker split: 'low' or 'high', not {reference!r}")
    out = group_comparison(df, time_col, event_col, split.groups, analysis, endpoint, grouping,
                           reference=reference, covariates=covariates, settings=settings,
                           cutpoint=split.cutpoint)
    row = out.rows[-1]
    row["cut_selection"] = DATA_CHOSEN if split.maxstat is not None else PRE_SPECIFIED
    # The HR label in the term table reads better as the marker name than the long grouping.
    for terms in out.terms:
        terms["term"] = terms["term"].str.replace(f"{grouping}=", f"{label} ", regex=False)
    if split.maxstat is not None:
        ms = split.maxstat
        adjusted = {"gauss": ms.p_gauss, "lausen94": ms.p_lausen94, "lausen92": ms.p_lausen92,
                    "permutation": ms.p_permutation}[settings.maxstat_p]
        row.update(test="maximally selected log-rank statistic",
                   statistic=ms.statistic,
                   p_value_adjusted=adjusted,
                   p_value_lausen94=ms.p_lausen94, p_value_lausen92=ms.p_lausen92,
                   p_value_gauss=ms.p_gauss,
                   p_value_permutation=ms.p_permutation, permutations=ms.permutations,
                   adjustment=f"maxstat p_value_adjusted = {settings.maxstat_p}")
        row["note"] = "; ".join(filter(None, [
            "cut-point chosen from the data: quote p_value_adjusted, not p_value", row["note"]]))
        out.cuts.append(pd.DataFrame({
            "analysis": analysis, "endpoint": endpoint, "cutpoint": ms.cuts,
            "statistic": ms.stats, "selected": ms.cuts == ms.cutpoint,
        }))
    return out, split


def continuous_cox(df: pd.DataFrame, time_col: str, event_col: str, marker_col: str,
                   analysis: str, endpoint: str, log: bool = True, log_offset: float = 0.0,
                   covariates: list[str] | None = None,
                   settings: SurvivalSettings = SurvivalSettings(),
                   marker_label: str | None = None) -> SurvivalResults:
    """Cox model of the continuous marker (natural log of marker + ``log_offset`` when ``log``):
    HR per unit (per e-fold of the marker when logged), optionally adjusted for covariates."""
    out = SurvivalResults()
    label = marker_label or marker_col
    values = df[marker_col].astype(float)
    term = label
    if log:
        if (values + log_offset <= 0).any():
            bad = int((values + log_offset <= 0).sum())
            out.rows.append({"analysis": analysis, "endpoint": endpoint, "n": len(df),
                             "events": int(df[event_col].sum()), "test": "Cox",
                             "grouping": f"log({label})", "small_cohort": True,
                             "note": f"not estimable: {bad} value(s) <= 0 cannot be logged "
                                     f"(set a log offset)"})
            return out
        values = np.log(values + log_offset)
        term = f"log({label} + {_fmt(log_offset)})" if log_offset else f"log({label})"
    design = pd.concat([pd.DataFrame({term: values}, index=df.index),
                        design_matrix(df, list(covariates or []))], axis=1)
    time, event = df[time_col].astype(float), df[event_col].astype(int)
    row = {"analysis": analysis, "endpoint": endpoint, "n": int(len(df)),
           "events": int(event.sum()), "grouping": f"continuous: {term}", "test": "Cox (Wald)",
           "adjustment": ("Cox adjusted for " + ", ".join(covariates)) if covariates else "none"}
    notes = []
    try:
        fit = fit_cox(time, event, design, alpha=settings.alpha)
        first = fit.terms.iloc[0]
        row.update(statistic=first["z"], p_value=first["p_value"],
                   p_value_adjusted=first["p_value"], hazard_ratio=first["hazard_ratio"],
                   hr_lower=first["hr_lower"], hr_upper=first["hr_upper"],
                   concordance=fit.concordance, ph_test_p=first["ph_test_p"])
        out.terms.append(fit.terms.assign(analysis=analysis, endpoint=endpoint))
        if fit.note:
            notes.append(fit.note)
    except ValueError as exc:
        notes.append(f"not estimable: {exc}")
    small = small_cohort_note(int(event.sum()), design.shape[1], None,
                              settings.min_events_per_term)
    return _add_row(out, row, notes, small)


def _jt_statistics(x_sorted: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """JT for each row of ``codes`` (shape (B, n): group index of each value of ``x_sorted``,
    ascending). JT = sum over pairs in ordered groups a < b of [x_a < x_b] + 1/2 [x_a == x_b],
    counted from the group sizes among strictly smaller values and within each tie block."""
    n = len(x_sorted)
    first = np.flatnonzero(np.r_[True, x_sorted[1:] != x_sorted[:-1]])
    block_start = np.repeat(first, np.diff(np.r_[first, n]))
    block_end = np.repeat(np.r_[first[1:], n] - 1, np.diff(np.r_[first, n]))
    onehot = (codes[..., None] == np.arange(k)).astype(np.int32)  # (B, n, k)
    incl = np.cumsum(onehot, axis=1)
    zero = np.zeros_like(incl[:, :1])
    before = np.concatenate([zero, incl], axis=1)[:, block_start]  # strictly smaller values
    in_block = incl[:, block_end] - before  # equal values (incl. self, which is never a < own)
    # counts over groups strictly below each element's own group
    lower_before = np.cumsum(before, axis=2) - before
    lower_block = np.cumsum(in_block, axis=2) - in_block
    own = codes[..., None]
    less = np.take_along_axis(lower_before, own, axis=2)[..., 0]
    ties = np.take_along_axis(lower_block, own, axis=2)[..., 0]
    return (less + 0.5 * ties).sum(axis=1)


def jonckheere_terpstra(values: pd.Series, groups: pd.Series, order: list[str],
                        permutations: int = 10000, seed: int = 1) -> tuple[float, float, float]:
    """Jonckheere-Terpstra trend test of ``values`` across ordered ``groups`` (ties count 1/2).
    Returns (JT, standardised z with the tie-free variance, two-sided permutation p from
    ``permutations`` random re-assignments of the group labels, valid with ties)."""
    x = values.astype(float).values
    codes = np.array([order.index(v) for v in groups.astype(str).values])
    sort = np.argsort(x, kind="mergesort")
    x_sorted, codes_sorted = x[sort], codes[sort]
    k = len(order)
    observed = float(_jt_statistics(x_sorted, codes_sorted[None, :], k)[0])
    n = len(x)
    sizes = np.bincount(codes, minlength=k)
    mean = (n**2 - np.sum(sizes**2)) / 4
    var = (n**2 * (2 * n + 3) - np.sum(sizes**2 * (2 * sizes + 3))) / 72
    z = (observed - mean) / math.sqrt(var) if var > 0 else float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, int(4e6 // max(n * k, 1)))
    null = np.empty(permutations)
    done = 0
    while done < permutations:
        size = min(chunk, permutations - done)
        perm = rng.permuted(np.broadcast_to(codes_sorted, (size, n)), axis=1)
        null[done:done + size] = _jt_statistics(x_sorted, perm, k)
        done += size
    extreme = np.sum(np.abs(null - mean) >= abs(observed - mean) - 1e-9)
    return observed, z, float((1 + extreme) / (permutations + 1))


def marker_vs_response(df: pd.DataFrame, marker_col: str, response_col: str, analysis: str,
                       settings: SurvivalSettings = SurvivalSettings(),
                       marker_label: str | None = None) -> SurvivalResults:
    """Marker across best-response categories: Kruskal-Wallis (any difference) and
    Jonckheere-Terpstra (monotone trend over CR < PR < SD < PD). NE and missing responses are
    left out. Two rows (endpoint 'best_response')."""
    out = SurvivalResults()
    label = marker_label or marker_col
    sub = df[[marker_col, response_col]].dropna()
    sub = sub[sub[response_col].astype(str).isin(RESPONSE_ORDER)]
    present = [r for r in RESPONSE_ORDER if (sub[response_col] == r).any()]
    sizes = sub[response_col].value_counts()
    base = {"endpoint": "best_response", "n": int(len(sub)),
            "grouping": f"{label} by {response_col} ({' < '.join(present)})",
            "groups": ";".join(f"{r}={int(sizes.get(r, 0))}" for r in present),
            "median_survival": pd.NA}
    small = (f"small cohort: smallest response group has {int(sizes.min())} patients "
             f"(< {settings.min_group_size})" if len(present) and
             sizes.min() < settings.min_group_size else "")
    if len(present) < 2:
        for name, test in (("kruskal_wallis", "Kruskal-Wallis"),
                           ("jonckheere_terpstra", "Jonckheere-Terpstra")):
            out.rows.append({**base, "analysis": f"{analysis}_{name}", "test": test,
                             "small_cohort": True,
                             "note": "not estimable: fewer than two response categories"})
        return out
    samples = [sub.loc[sub[response_col] == r, marker_col].astype(float).values for r in present]
    try:
        h, p_kw = stats.kruskal(*samples)
    except ValueError as exc:  # all values identical
        h, p_kw = float("nan"), float("nan")
        small = "; ".join(filter(None, [small, f"Kruskal-Wallis not computed ({exc})"]))
    out.rows.append({**base, "analysis": f"{analysis}_kruskal_wallis", "test": "Kruskal-Wallis",
                     "statistic": h, "p_value": p_kw, "p_value_adjusted": p_kw,
                     "small_cohort": bool(small), "note": small})
    jt, z, p_jt = jonckheere_terpstra(sub[marker_col], sub[response_col], present,
                                      permutations=max(settings.permutations, 2000),
                                      seed=settings.seed)
    out.rows.append({**base, "analysis": f"{analysis}_jonckheere_terpstra",
                     "test": "Jonckheere-Terpstra (permutation p)", "statistic": z,
                     "p_value": p_jt, "p_value_adjusted": p_jt,
                     "p_value_permutation": p_jt,
                     "permutations": max(settings.permutations, 2000),
                     "small_cohort": bool(small),
                     "note": "; ".join(filter(None, [small, f"JT = {_fmt(jt)}; statistic is the "
                                                    "standardised JT (positive: marker rises "
                                                    "from CR to PD)"]))})
    return out


# --------------------------------------------------------------------------- generic table

@dataclass(frozen=True)
class TableAnalysis:
    """What ``plasmatrack survival`` analyses in a plain table: the time and event columns,
    exactly one of a group column and a numeric marker column, and how rows are chosen.

    Rows are kept when time, event, the group/marker and every covariate and ``complete_cols``
    column are present; negative times are always dropped, and times <= ``min_time`` too when it
    is given. Time is divided by ``time_divisor`` (e.g. 30 for days -> months). A marker is split
    at ``cutpoint`` and also given a Cox model (of its natural log plus ``log_offset`` unless
    ``log_marker`` is False). ``reference``: the hazard ratio's reference group (default 'low'
    for a marker split, the first group in sorted order otherwise). ``endpoint``: the name in
    the output (default: the time column)."""

    time_col: str
    event_col: str
    group_col: str | None = None
    marker_col: str | None = None
    cutpoint: str | float = "median"
    covariates: Sequence[str] = ()
    reference: str | None = None
    log_marker: bool = True
    log_offset: float = 0.0
    time_divisor: float = 1.0
    min_time: float | None = None
    complete_cols: Sequence[str] = ()
    endpoint: str | None = None

    @property
    def endpoint_name(self) -> str:
        return self.endpoint or self.time_col

    @property
    def needed(self) -> list[str]:
        """Columns that must be present (in the table and in a row for it to be used)."""
        return ([self.time_col, self.event_col, self.group_col or self.marker_col]
                + list(self.covariates) + list(self.complete_cols))


def analyze_table(table: pd.DataFrame, analysis: TableAnalysis,
                  settings: SurvivalSettings = SurvivalSettings(),
                  source: str = "table") -> SurvivalResults:
    """The standalone analysis behind ``plasmatrack survival`` (see :class:`TableAnalysis`).
    With a group column: KM + log-rank + Cox by group. With a marker column: KM + log-rank + Cox
    of high vs low at the cut-point, and a Cox model of the continuous marker. Covariates adjust
    the Cox models (extra rows, suffix ``_adjusted``)."""
    if (analysis.group_col is None) == (analysis.marker_col is None):
        raise InputError("give exactly one of a group column and a marker column")
    out = SurvivalResults()
    df = analysable_rows(table, analysis, source, out.warnings)
    if analysis.group_col is not None:
        out.extend(_group_analyses(df, analysis, settings))
    else:
        out.extend(_marker_analyses(df, analysis, settings))
    return out


def analysable_rows(table: pd.DataFrame, analysis: TableAnalysis, source: str,
                    warnings_out: list[str]) -> pd.DataFrame:
    """The rows :func:`analyze_table` uses (time divided, marker numeric); what was left out
    and why goes to ``warnings_out``. Raises InputError naming ``source``."""
    time_col = analysis.time_col
    df = check_survival_columns(table, time_col, analysis.event_col, source)
    needed = analysis.needed
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(f"{source}: column(s) not found: {', '.join(missing)}")
    df, dropped = complete_cases(df, needed)
    if dropped:
        warnings_out.append(f"{dropped} row(s) with a missing "
                            f"{', '.join(dict.fromkeys(needed))} value left out")
    df[time_col] = df[time_col] / analysis.time_divisor
    negative = df[time_col] < 0
    if negative.any():
        warnings_out.append(f"{int(negative.sum())} row(s) with a negative time left out")
        df = df[~negative]
    if analysis.min_time is not None:
        early = df[time_col] <= analysis.min_time
        if early.any():
            warnings_out.append(f"{int(early.sum())} row(s) with time <= {analysis.min_time} "
                                "left out")
            df = df[~early]
    if analysis.marker_col is not None:
        df[analysis.marker_col] = _numeric_marker(df, analysis.marker_col, source)
    if len(df) == 0:
        raise InputError(f"{source}: no rows left to analyse after removing incomplete rows")
    return df


def _numeric_marker(df: pd.DataFrame, marker_col: str, source: str) -> pd.Series:
    numeric = pd.to_numeric(df[marker_col], errors="coerce")
    if numeric.isna().any():
        idx = df.index[numeric.isna()][0]
        raise InputError(f"{source}, column '{marker_col}': {df.at[idx, marker_col]!r} is "
                         "not a number (a marker must be numeric; use --group-col for "
                         "categories)")
    return numeric.astype(float)


def _group_analyses(df: pd.DataFrame, analysis: TableAnalysis,
                    settings: SurvivalSettings) -> SurvivalResults:
    """KM + log-rank + Cox by group (and the Cox model adjusted for the covariates)."""
    col = analysis.group_col
    groups = df[col].astype(str)
    data = (df, analysis.time_col, analysis.event_col, groups)
    out = group_comparison(*data, f"km_{col}", analysis.endpoint_name, col,
                           reference=analysis.reference, settings=settings)
    if analysis.covariates:
        out.extend(group_comparison(*data, f"cox_{col}_adjusted", analysis.endpoint_name, col,
                                    reference=analysis.reference,
                                    covariates=list(analysis.covariates), settings=settings))
        # the adjusted row's curves duplicate the unadjusted ones
        out.curves.pop()
        out.at_risk.pop()
    return out


def _marker_analyses(df: pd.DataFrame, analysis: TableAnalysis,
                     settings: SurvivalSettings) -> SurvivalResults:
    """High vs low marker at the cut-point, and Cox on the continuous marker (and adjusted)."""
    col = analysis.marker_col
    data = (df, analysis.time_col, analysis.event_col, col)
    method = parse_cutpoint(analysis.cutpoint)
    name = method if isinstance(method, str) else "value"
    out, _ = marker_split_analysis(*data, f"km_{col}_{name}", analysis.endpoint_name, method,
                                   settings=settings, reference=analysis.reference or "low")
    cox = {"log": analysis.log_marker, "log_offset": analysis.log_offset, "settings": settings}
    out.extend(continuous_cox(*data, f"cox_{col}", analysis.endpoint_name, **cox))
    if analysis.covariates:
        out.extend(continuous_cox(*data, f"cox_{col}_adjusted", analysis.endpoint_name,
                                  covariates=list(analysis.covariates), **cox))
    return out


@dataclass(frozen=True)
class SurvivalPaths:
    """Where :func:`write_results` puts each table (table name -> path)."""

    survival: Path
    km_curves: Path
    km_at_risk: Path
    cox_terms: Path
    maxstat_cuts: Path

    @classmethod
    def in_folder(cls, out_dir: str | Path) -> "SurvivalPaths":
        """The tables under their published file names (the table registry's) in ``out_dir``."""
        from ..tables import BY_NAME
        return cls(**{f.name: Path(out_dir) / Path(BY_NAME[f.name].path).name
                      for f in fields(cls)})

    def as_dict(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def write_results(results: SurvivalResults, paths: SurvivalPaths) -> dict[str, str]:
    """Write survival.tsv, km_curves.tsv, km_at_risk.tsv, cox_terms.tsv and maxstat_cuts.tsv
    to ``paths``; returns table name -> path."""
    write_tsv(results.table(), paths.survival)
    write_tsv(results.curve_table(), paths.km_curves)
    write_tsv(results.at_risk_table(), paths.km_at_risk)
    write_tsv(results.term_table(), paths.cox_terms)
    write_tsv(results.cut_table(), paths.maxstat_cuts)
    return paths.as_dict()
