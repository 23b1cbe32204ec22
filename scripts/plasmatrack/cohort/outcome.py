"""The outcome analyses of the cohort stage: the high/low burden groups of her2_burden.tsv (a
cut on TTF), and every survival analysis of survival.tsv (burden splits, Cox models, sensitivity
metrics, the landmark analysis of the molecular response, burden vs best response), on the
assay-agnostic statistics of :mod:`plasmatrack.stats.survival`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats.survival import (
    SurvivalResults,
    continuous_cox,
    group_comparison,
    marker_split_analysis,
    marker_vs_response,
    overall_km,
    split_marker,
)
from ..units import DAYS_PER_MONTH
from .draws import metric_values
from .settings import ENDPOINTS, PRIMARY_ENDPOINT, CohortSettings


def survival_subset(burden: pd.DataFrame, endpoint: str, marker: str = "her2_burden"
                    ) -> pd.DataFrame:
    """Patients usable for ``endpoint``: clinical time and event present and a marker value."""
    time_col, event_col = ENDPOINTS[endpoint]
    if time_col not in burden or event_col not in burden:
        return burden.iloc[0:0]
    mask = (burden[time_col].notna() & burden[event_col].notna() & burden[marker].notna())
    sub = burden.loc[mask].copy()
    sub[time_col] = sub[time_col].astype(float)
    sub[event_col] = sub[event_col].astype(int)
    return sub


def assign_burden_groups(burden: pd.DataFrame, settings: CohortSettings = CohortSettings()
                         ) -> tuple[pd.DataFrame, float | None, str]:
    """Fill ``her2_burden_group`` (high/low), ``her2_burden_cutpoint`` and ``in_survival``.

    The cut is found among patients with a TTF (the primary endpoint) and a burden, by the
    configured method; every patient with a burden is then grouped by it. Returns the table,
    the cut-point (None if it could not be set) and a message (why not, or '')."""
    out = burden.copy()
    sub = survival_subset(out, "ttf")
    out["in_survival"] = out["patient_id"].isin(sub["patient_id"])
    pool = sub if len(sub) else out[out["her2_burden"].notna()]
    if len(pool) == 0:
        return out, None, "no patient has a HER2 burden"
    try:
        if settings.cutpoint == "maxstat":
            if len(sub) == 0:
                raise ValueError("no patient has TTF data to select a cut-point on")
            split = split_marker(sub["her2_burden"], sub["ttf_months"], sub["ttf_event"],
                                 "maxstat", settings.min_prop, 0, settings.seed)
        else:
            split = split_marker(pool["her2_burden"], None, None, settings.cutpoint)
    except (ValueError, InputError) as exc:
        return out, None, f"burden groups not assigned: {exc}"
    has = out["her2_burden"].notna()
    out.loc[has, "her2_burden_group"] = np.where(out.loc[has, "her2_burden"] > split.cutpoint,
                                                 "high", "low")
    out["her2_burden_cutpoint"] = split.cutpoint
    return out, split.cutpoint, ""


def _left_out_note(burden: pd.DataFrame, sub: pd.DataFrame, endpoint: str) -> str:
    left = burden[~burden["patient_id"].isin(sub["patient_id"])]
    if left.empty:
        return ""
    ids = ", ".join(left["patient_id"].astype(str).tolist()[:10])
    more = "" if len(left) <= 10 else f" and {len(left) - 10} more"
    return (f"{len(left)} patient(s) left out (no clinical {endpoint.upper()} data or no HER2 "
            f"burden): {ids}{more}")


def _append_note(results: SurvivalResults, note: str) -> None:
    if not note:
        return
    for row in results.rows:
        row["note"] = "; ".join(filter(None, [row.get("note") or "", note]))


def cohort_survival(burden: pd.DataFrame, dynamics: pd.DataFrame | None,
                    settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Every survival analysis of the cohort stage (rows of survival.tsv, KM curves, Cox terms,
    maxstat cuts): per endpoint, high vs low burden (configured cut), the maximally selected cut
    as a sensitivity analysis (when the configured cut is not already maxstat), Cox on log
    burden (unadjusted and adjusted for the configured covariates), Cox on each sensitivity
    metric, the landmark analysis of the on-treatment molecular response, and burden vs best
    response."""
    results = SurvivalResults()
    missing_cov = [c for c in settings.covariates if c not in burden.columns]
    if missing_cov:
        raise InputError(f"config 'cohort.covariates': clinical column(s) not found: "
                         f"{', '.join(missing_cov)}")
    for endpoint in settings.endpoints:
        if ENDPOINTS[endpoint][0] not in burden and endpoint != "ttf":
            continue  # OS is optional in the clinical sheet
        results.extend(_endpoint_analyses(burden, dynamics, endpoint, settings))
    if "best_response" in burden:
        results.extend(marker_vs_response(burden, "her2_burden", "best_response",
                                          "burden_vs_best_response", settings=settings.survival,
                                          marker_label=f"her2_burden[{settings.metric}]"))
    return results


def _endpoint_analyses(burden: pd.DataFrame, dynamics: pd.DataFrame | None, endpoint: str,
                       settings: CohortSettings) -> SurvivalResults:
    """The analyses of one endpoint: the high/low splits, Cox on log burden (and adjusted), Cox
    on each sensitivity metric (each row says who was left out), then the landmark analysis."""
    time_col, event_col = ENDPOINTS[endpoint]
    followed = (burden[burden[time_col].notna() & burden[event_col].notna()]
                if time_col in burden and event_col in burden else burden.iloc[0:0])
    # every patient with outcome data, burden or not: the cohort's median TTF / OS
    results = overall_km(followed, time_col, event_col, f"{endpoint}_all", endpoint,
                         settings.survival)
    sub = survival_subset(burden, endpoint)
    if len(sub) == 0:
        results.rows.append({"analysis": f"{endpoint}_burden", "endpoint": endpoint,
                             "n": 0, "events": 0, "small_cohort": True,
                             "note": "not estimable: no patient with both a HER2 burden "
                                     f"and {endpoint.upper()} data"})
        return results
    by_burden = _burden_analyses(sub, endpoint, settings)
    for metric in settings.sensitivity_metrics:
        if metric != settings.metric:
            by_burden.extend(_sensitivity_cox(burden, endpoint, metric, settings))
    _append_note(by_burden, _left_out_note(burden, sub, endpoint))
    results.extend(by_burden)
    if dynamics is not None:
        from .mrd_response import mrd_landmark_analyses  # it builds on this module

        results.extend(landmark_analysis(burden, dynamics, endpoint, settings))
        results.extend(mrd_landmark_analyses(burden, dynamics, endpoint, settings))
    return results


def _burden_analyses(sub: pd.DataFrame, endpoint: str,
                     settings: CohortSettings) -> SurvivalResults:
    """High vs low burden at the configured cut and (as a sensitivity analysis) at the
    maximally selected one; Cox on log burden, unadjusted and adjusted for the covariates."""
    results = SurvivalResults()
    time_col, event_col = ENDPOINTS[endpoint]
    label = f"her2_burden[{settings.metric}]"
    cut = settings.cutpoint
    cut_name = cut if isinstance(cut, str) else "value"
    # the maximally selected cut is a sensitivity analysis unless it is the configured one
    methods = [(cut, cut_name)] + ([("maxstat", "maxstat")] if cut != "maxstat" else [])
    for method, name in methods:
        res, _ = marker_split_analysis(sub, time_col, event_col, "her2_burden",
                                       f"{endpoint}_burden_{name}", endpoint, method,
                                       settings=settings.survival, marker_label=label)
        # the study's question: the primary endpoint by the configured (pre-specified) split
        for row in res.rows:
            row["primary"] = endpoint == PRIMARY_ENDPOINT and method == cut
        results.extend(res)
    cox = {"log": True, "log_offset": settings.log_offset, "settings": settings.survival,
           "marker_label": label}
    results.extend(continuous_cox(sub, time_col, event_col, "her2_burden",
                                  f"{endpoint}_burden_cox", endpoint, **cox))
    covariates = list(settings.covariates)
    if covariates:
        results.extend(continuous_cox(sub.dropna(subset=covariates), time_col, event_col,
                                      "her2_burden", f"{endpoint}_burden_cox_adjusted", endpoint,
                                      covariates=covariates, **cox))
    return results


def _sensitivity_cox(burden: pd.DataFrame, endpoint: str, metric: str,
                     settings: CohortSettings) -> SurvivalResults:
    """Cox on the log of another burden metric (a sensitivity analysis)."""
    time_col, event_col = ENDPOINTS[endpoint]
    alt = burden.assign(_metric=metric_values(burden, metric))
    alt_sub = survival_subset(alt, endpoint, "_metric")
    if len(alt_sub) == 0:
        results = SurvivalResults()
        results.rows.append({"analysis": f"{endpoint}_cox_{metric}", "endpoint": endpoint,
                             "n": 0, "events": 0, "small_cohort": True,
                             "note": f"not estimable: no patient has {metric}"})
        return results
    offset = settings.tf_log_offset if metric in ("tumour_fraction", "mutation_vaf") \
        else settings.log_offset
    return continuous_cox(alt_sub, time_col, event_col, "_metric", f"{endpoint}_cox_{metric}",
                          endpoint, log=True, log_offset=offset, settings=settings.survival,
                          marker_label=metric)


def _landmark_frame(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                    settings: CohortSettings) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The landmark's patients: (those still event-free and followed at ``landmark_months``
    with an on-treatment draw taken by then, time counted from the landmark; all with outcome
    data; the note counting them)."""
    time_col, event_col = ENDPOINTS[endpoint]
    landmark = settings.landmark_months
    df = burden[["patient_id", time_col, event_col]].merge(dynamics, on="patient_id")
    df = df[df[time_col].notna() & df[event_col].notna()].copy()
    df[time_col] = df[time_col].astype(float)
    df[event_col] = df[event_col].astype(int)
    at_risk = df[df[time_col] > landmark]
    drawn = at_risk[at_risk["on_treatment_day"].astype(float) <= landmark * DAYS_PER_MONTH].copy()
    drawn[time_col] = drawn[time_col] - landmark
    note = (f"landmark {landmark:g} months: {len(df)} patients with {endpoint.upper()} data, "
            f"{len(at_risk)} event-free and followed at the landmark, {len(drawn)} with an "
            f"on-treatment draw by then")
    return drawn, df, note


@dataclass(frozen=True)
class LandmarkGrouping:
    """A boolean column of dynamics.tsv compared at the landmark: true (``labels[0]``) vs false
    (``labels[1]``, the reference); ``what`` names it in the notes and the KM legend,
    ``grouping`` in survival.tsv."""

    column: str
    name: str
    labels: tuple[str, str]
    what: str
    grouping: str


def landmark_groups(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                    spec: LandmarkGrouping, settings: CohortSettings = CohortSettings()
                    ) -> tuple[SurvivalResults, bool]:
    """Landmark comparison (:func:`_landmark_frame`) by ``spec``; patients where its column is
    NA are left out (the note counts the evaluable ones). Returns the results and whether the
    comparison was estimable (at least two evaluable patients)."""
    results = SurvivalResults()
    time_col, event_col = ENDPOINTS[endpoint]
    if time_col not in burden:
        return results, False
    drawn, _, note = _landmark_frame(burden, dynamics, endpoint, settings)
    evaluable = drawn[drawn[spec.column].notna()]
    note = f"{note}, {len(evaluable)} evaluable for {spec.what}"
    name = f"{endpoint}_{spec.name}"
    if len(evaluable) < 2:
        results.rows.append({"analysis": name, "endpoint": endpoint, "n": len(evaluable),
                             "events": int(evaluable[event_col].sum()) if len(evaluable) else 0,
                             "grouping": spec.grouping, "small_cohort": True,
                             "note": f"not estimable; {note}"})
        return results, False
    groups = np.where(evaluable[spec.column].astype(bool), *spec.labels)
    res = group_comparison(evaluable, time_col, event_col,
                           pd.Series(groups, index=evaluable.index), name, endpoint,
                           spec.what, reference=spec.labels[1], settings=settings.survival)
    _append_note(res, note)
    results.extend(res)
    return results, True


MOLECULAR_RESPONSE = LandmarkGrouping("molecular_responder", "landmark_molecular_response",
                                      ("responder", "non-responder"), "molecular response",
                                      "molecular responder vs non-responder")


def landmark_analysis(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                      settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Landmark analysis of the on-treatment change: patients still event-free and followed at
    ``landmark_months`` whose on-treatment draw was taken by then; time counted from the
    landmark. Molecular responders vs non-responders (KM, log-rank, Cox) and a Cox model of the
    continuous log2 fold change of TF."""
    time_col, event_col = ENDPOINTS[endpoint]
    results, estimable = landmark_groups(burden, dynamics, endpoint, MOLECULAR_RESPONSE,
                                         settings)
    if not estimable:
        return results
    drawn, _, _ = _landmark_frame(burden, dynamics, endpoint, settings)
    fold = drawn[drawn["tf_log2_fold"].notna()]
    if len(fold) >= 2:
        res = continuous_cox(fold, time_col, event_col, "tf_log2_fold",
                             f"{endpoint}_landmark_cox_tf_log2_fold", endpoint, log=False,
                             settings=settings.survival, marker_label="TF log2 fold change")
        _append_note(res, f"landmark {settings.landmark_months:g} months; HR per doubling of TF")
        results.extend(res)
    return results
