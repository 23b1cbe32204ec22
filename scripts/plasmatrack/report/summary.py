"""The study summary at the top of the cohort page (and its shorter form on each patient page).

Two steps, as for the figures: pure functions from the published tables to a small typed summary
(:func:`study_summary`, :func:`patient_summary`; no file access, no formatting), then the
sentences in the words of a trial abstract (:func:`study_sentences`, :func:`patient_sentences`),
each a plain string the template escapes, with the section and the table it comes from.

Every number is read from a table, never recomputed another way: medians with their 95%
intervals, hazard ratios, p-values and the small-cohort caveat from ``survival.tsv`` (the cohort
stage), amplification and burden from ``her2_burden.tsv`` and ``erbb2.tsv``, detection from
``tumour_fraction.tsv`` / ``her2_burden.tsv``, molecular response from ``dynamics.tsv``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from ..consequence_terms import is_protein_altering
from ..io import as_bool
from ..stats.survival import DATA_CHOSEN, PRE_SPECIFIED, parse_group_values
from .plotting import float_or_none, format_p

PRIMARY_ENDPOINT = "ttf"
ENDPOINT_NAMES = {"ttf": "time to treatment failure (TTF)", "os": "overall survival (OS)"}


# ------------------------------------------------------------------------------------ model
@dataclass(frozen=True)
class Count:
    """k of n patients (n = patients with the measurement)."""

    k: int
    n: int


@dataclass(frozen=True)
class Median:
    """A Kaplan-Meier median (NaN: not reached) with its 95% interval, of n patients."""

    value: float
    lower: float
    upper: float
    n: int | None = None
    events: int | None = None


@dataclass(frozen=True)
class Analysis:
    """One survival.tsv row as the summary quotes it."""

    name: str
    endpoint: str
    n: int
    events: int
    grouping: str
    cutpoint: float | None
    data_chosen: bool
    medians: dict[str, Median]
    hazard_ratio: float | None
    hr_lower: float | None
    hr_upper: float | None
    p_value: float | None  # the p to quote: selection-adjusted for a data-chosen cut
    small_cohort: str  # the table's small-cohort caveat, or ""


@dataclass(frozen=True)
class StudySummary:
    """What the cohort page's first section says, each field from one table (None: absent)."""

    n_patients: int
    n_serial: int  # patients with two or more plasma draws
    draws_median: float
    draws_range: tuple[int, int]
    amplified_baseline: Count | None  # ERBB2 amplification in ctDNA at the baseline draw
    amplified_any: Count | None  # ... at any draw
    mutant_detected: Count | None  # HER2-mutant patients: ERBB2 mutation detected in ctDNA
    medians: dict[str, Median]  # endpoint -> all patients' median
    primary: Analysis | None
    burden_metric: str
    ctdna_baseline: Count | None  # tumour DNA detected at baseline
    molecular_response: Count | None  # molecular responders of the evaluable patients


# ------------------------------------------------------------------------------------ reading
def _num(value) -> float | None:
    """A finite number, else None (an infinite interval bound is no number to quote)."""
    out = float_or_none(value)
    return out if out is not None and math.isfinite(out) else None


def _endpoints(survival: pd.DataFrame) -> pd.Series:
    return survival["endpoint"].astype(str).str.strip().str.lower()


def is_data_chosen(row: dict) -> bool:
    """A cut chosen from the data by the outcomes (the table's ``cut_selection``; tables of
    older runs without it: a maximally selected test)."""
    selection = row.get("cut_selection")
    if isinstance(selection, str) and selection.strip():
        return selection.strip() == DATA_CHOSEN
    return "maximally selected" in str(row.get("test") or "").lower()


def _medians(row: dict) -> dict[str, Median]:
    med = parse_group_values(row.get("median_survival"))
    lo = parse_group_values(row.get("median_lower"))
    hi = parse_group_values(row.get("median_upper"))
    sizes = {k: int(v) for k, v in parse_group_values(row.get("groups")).items()
             if not math.isnan(v)}
    return {g: Median(v, lo.get(g, math.nan), hi.get(g, math.nan), sizes.get(g))
            for g, v in med.items()}


def flag(value) -> bool:
    """A TSV flag cell (true/1/yes...; missing = False)."""
    out = as_bool(pd.Series([value])).iloc[0]
    return False if pd.isna(out) else bool(out)


def _small_cohort(row: dict) -> str:
    if not flag(row.get("small_cohort")):
        return ""
    parts = [p.strip() for p in str(row.get("note") or "").split(";")]
    caveat = [p for p in parts if p.startswith("small cohort")]
    return caveat[0] if caveat else "small cohort: treat p-values as exploratory"


def analysis_of(row: dict) -> Analysis:
    """A survival.tsv row as an :class:`Analysis`."""
    chosen = is_data_chosen(row)
    p = _num(row.get("p_value_adjusted")) if chosen else None
    return Analysis(
        name=str(row["analysis"]), endpoint=str(row["endpoint"]).strip().lower(),
        n=int(_num(row.get("n")) or 0), events=int(_num(row.get("events")) or 0),
        grouping=str(row.get("grouping") or ""), cutpoint=_num(row.get("cutpoint")),
        data_chosen=chosen, medians=_medians(row), hazard_ratio=_num(row.get("hazard_ratio")),
        hr_lower=_num(row.get("hr_lower")), hr_upper=_num(row.get("hr_upper")),
        p_value=p if p is not None else _num(row.get("p_value")),
        small_cohort=_small_cohort(row))


def primary_row(survival: pd.DataFrame | None) -> dict | None:
    """The primary analysis' row: flagged ``primary`` by the cohort stage; in a table without
    the flag, the first pre-specified high/low split of TTF."""
    if survival is None or survival.empty:
        return None
    if "primary" in survival and as_bool(survival["primary"]).fillna(False).any():
        return survival[as_bool(survival["primary"]).fillna(False).astype(bool)].iloc[0].to_dict()
    ttf = survival[_endpoints(survival) == PRIMARY_ENDPOINT]
    for _, row in ttf.iterrows():
        rec = row.to_dict()
        if _num(rec.get("cutpoint")) is not None and not is_data_chosen(rec):
            return rec
    return None


def overall_medians(survival: pd.DataFrame | None) -> dict[str, Median]:
    """endpoint -> the all-patients median of survival.tsv (``grouping`` 'all patients')."""
    out: dict[str, Median] = {}
    if survival is None or "grouping" not in survival:
        return out
    rows = survival[survival["grouping"].astype(str) == "all patients"]
    for _, row in rows.iterrows():
        med = _medians(row.to_dict()).get("all")
        if med is not None:
            out[str(row["endpoint"]).strip().lower()] = Median(
                med.value, med.lower, med.upper, int(row["n"]), int(row["events"]))
    return out


def _count(flags: pd.Series) -> Count | None:
    flags = flags.dropna()
    return Count(int(flags.astype(bool).sum()), len(flags)) if len(flags) else None


def _per_patient_any(df: pd.DataFrame | None, column: str) -> Count | None:
    if df is None or df.empty or column not in df:
        return None
    flags = as_bool(df[column])
    return _count(flags.groupby(df["patient_id"].to_numpy()).agg(
        lambda s: s.dropna().any() if s.notna().any() else pd.NA))


def _status(burden: pd.DataFrame) -> pd.Series | None:
    if "her2_status" not in burden:
        return None
    return burden.set_index("patient_id")["her2_status"].astype(str).str.strip().str.lower()


def amplification_counts(burden: pd.DataFrame | None, erbb2: pd.DataFrame | None
                         ) -> tuple[Count | None, Count | None]:
    """ERBB2 amplification detected in ctDNA (the copy-number stage's ``amplified`` call): of
    the patients with a baseline call, and of the patients with any called draw. Where the
    clinical sheet gives HER2 status, HER2-mutant patients are left out (they are counted
    separately by :func:`mutation_count`)."""
    mutant: set[str] = set()
    if burden is not None:
        status = _status(burden)
        if status is not None:
            mutant = set(status.index[status == "mutant"])
    baseline = None
    if burden is not None and "erbb2_amplified" in burden:
        rows = burden[~burden["patient_id"].isin(mutant)]
        baseline = _count(as_bool(rows["erbb2_amplified"]))
    anydraw = None
    if erbb2 is not None:
        anydraw = _per_patient_any(erbb2[~erbb2["patient_id"].isin(mutant)], "amplified")
    return baseline, anydraw


def mutation_count(burden: pd.DataFrame | None, variants: pd.DataFrame | None,
                   gene: str) -> Count | None:
    """HER2-mutant patients (clinical ``her2_status`` mutant) with a somatic ``gene`` variant
    that changes the protein detected in ctDNA at any draw (tracked_variants.tsv ``status``
    detected; ``consequence`` protein-altering or empty)."""
    if burden is None or variants is None or _status(burden) is None:
        return None
    status = _status(burden)
    mutant = sorted(status.index[status == "mutant"])
    if not mutant:
        return None
    v = variants[(variants["gene"].astype(str) == gene)
                 & (variants["status"].astype(str) == "detected")]
    if "category" in v:
        v = v[v["category"].astype(str).isin(["somatic", "", "nan"])]
    if "consequence" in v:  # issue 24: silent and non-coding variants are no mutation
        v = v[v["consequence"].map(is_protein_altering)]
    return Count(len(set(v["patient_id"]) & set(mutant)), len(mutant))


def study_summary(samples: pd.DataFrame, survival: pd.DataFrame | None,
                  burden: pd.DataFrame | None, erbb2: pd.DataFrame | None,
                  variants: pd.DataFrame | None, dynamics: pd.DataFrame | None,
                  gene: str = "ERBB2") -> StudySummary:
    """The cohort summary from the sample sheet and the published tables (any may be None)."""
    plasma = samples[samples["sample_type"] == "plasma"]
    draws = plasma.groupby("patient_id").size()
    draws = draws.reindex(sorted(samples["patient_id"].unique()), fill_value=0)
    amp_base, amp_any = amplification_counts(burden, erbb2)
    row = primary_row(survival)
    metric = ""
    if burden is not None and "her2_burden_metric" in burden:
        metric = next(iter(burden["her2_burden_metric"].dropna().astype(str)), "")
    ctdna = None
    if burden is not None:
        col = "ctdna_detected" if "ctdna_detected" in burden else (
            "tf_detected" if "tf_detected" in burden else None)
        ctdna = _count(as_bool(burden[col])) if col else None
    response = None
    if dynamics is not None and "molecular_responder" in dynamics:
        response = _count(as_bool(dynamics["molecular_responder"]))
    return StudySummary(
        n_patients=len(draws), n_serial=int((draws >= 2).sum()),
        draws_median=float(draws.median()) if len(draws) else math.nan,
        draws_range=(int(draws.min()), int(draws.max())) if len(draws) else (0, 0),
        amplified_baseline=amp_base, amplified_any=amp_any,
        mutant_detected=mutation_count(burden, variants, gene),
        medians=overall_medians(survival),
        primary=analysis_of(row) if row is not None else None, burden_metric=metric,
        ctdna_baseline=ctdna, molecular_response=response)


# ------------------------------------------------------------------------------------ words
@dataclass(frozen=True)
class Sentence:
    """One sentence of a summary, the section it summarises (``#id``) and its table (a TSV
    beside the page, or None)."""

    text: str
    section: str
    tsv: str | None = None


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a sentence; 'not reached' for NaN (a median), 'NA' for None."""
    if value is None:
        return "NA"
    if math.isnan(value):
        return "not reached"
    return f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """'= 0.418' or '< 0.0001': the figures' p-value text (``plotting.format_p``) after 'p'."""
    text = format_p(p)
    return text if text.startswith("<") else f"= {text}"


def pct(c: Count) -> str:
    return f"{c.k} of {c.n} ({100 * c.k / c.n:.0f}%)" if c.n else "0 of 0"


def median_text(m: Median, extra: str = "", unit: str = "months") -> str:
    """'4.3 months (95% CI 2.1 to 6.0; <extra>)'; an open interval bound as 'not reached'."""
    if math.isnan(m.value):
        return "not reached" + (f" ({extra})" if extra else "")
    return (f"{fmt(m.value)} {unit} (95% CI {fmt(m.lower)} to {fmt(m.upper)}"
            + (f"; {extra})" if extra else ")"))


def _primary_sentence(a: Analysis, metric: str, tsv: str | None) -> list[Sentence]:
    cut = re.search(r"\(([^()]*)\)\s*$", a.grouping)
    method = cut.group(1) if cut else ("data-chosen" if a.data_chosen else PRE_SPECIFIED)
    words = (f"Primary analysis ({'exploratory, ' if a.data_chosen else ''}TTF by baseline HER2 "
             f"ctDNA burden{' [' + metric + ']' if metric else ''}, split at "
             f"{fmt(a.cutpoint, 3)} ({method}; {a.n} patients, {a.events} events): ")
    groups = [f"median TTF with {g} burden "
              + median_text(a.medians[g], f"n = {a.medians[g].n}" if a.medians[g].n is not None
                            else "")
              for g in ("high", "low") if g in a.medians]
    words += ("; ".join(groups) + "; " if groups else "")
    if a.hazard_ratio is not None and a.hr_lower is not None and a.hr_upper is not None:
        words += (f"hazard ratio high vs low {a.hazard_ratio:.2f} (95% CI {a.hr_lower:.2f} to "
                  f"{a.hr_upper:.2f})")
    else:
        words += "hazard ratio not estimable"
    words += (f", {'selection-adjusted ' if a.data_chosen else ''}log-rank p {fmt_p(a.p_value)}.")
    out = [Sentence(words, "#survival-ttf", tsv)]
    if a.small_cohort:
        out.append(Sentence(f"Caveat: {a.small_cohort}.", "#survival-ttf", tsv))
    return out


def study_sentences(s: StudySummary, tsv: dict[str, str | None] | None = None
                    ) -> list[Sentence]:
    """The cohort summary as sentences (what is absent is left out, never guessed)."""
    tsv = tsv or {}
    lo, hi = s.draws_range
    out = [Sentence(f"{s.n_serial} of {s.n_patients} patients had serial plasma (two or more "
                    f"draws); median {fmt(s.draws_median)} draws per patient (range {lo} to "
                    f"{hi}).", "#patients", tsv.get("patients"))]
    if s.amplified_baseline or s.amplified_any:
        parts = []
        if s.amplified_baseline:
            parts.append(f"{pct(s.amplified_baseline)} at baseline")
        if s.amplified_any:
            parts.append(f"{pct(s.amplified_any)} at any draw")
        out.append(Sentence("ERBB2 amplification was detected in ctDNA in " + " and in ".join(
            parts) + (" (HER2-amplified patients)." if s.mutant_detected else "."),
            "#burden", tsv.get("her2_burden")))
    if s.mutant_detected:
        out.append(Sentence(f"In HER2-mutant patients, the ERBB2 mutation was detected in ctDNA "
                            f"in {pct(s.mutant_detected)} at any draw.", "#burden",
                            tsv.get("her2_burden")))
    for endpoint in ("ttf", "os"):
        m = s.medians.get(endpoint)
        if m is not None:
            out.append(Sentence(f"Median {ENDPOINT_NAMES[endpoint]} was "
                                f"{median_text(m, f'{m.n} patients, {m.events} events')}.",
                                f"#survival-{endpoint}", tsv.get("survival")))
    if s.primary is not None:
        out += _primary_sentence(s.primary, s.burden_metric, tsv.get("survival"))
    if s.ctdna_baseline:
        out.append(Sentence(f"Tumour DNA was detected in the baseline plasma of "
                            f"{pct(s.ctdna_baseline)} patients.", "#burden",
                            tsv.get("her2_burden")))
    if s.molecular_response:
        out.append(Sentence(f"{pct(s.molecular_response)} evaluable patients had a molecular "
                            "response on treatment.", "#dynamics", tsv.get("dynamics")))
    return out


# ------------------------------------------------------------------------------------ patient
@dataclass(frozen=True)
class PatientSummary:
    """The patient page's summary, from the clinical row and the patient's table rows."""

    her2_status: str
    amplified_draws: Count | None  # draws with ERBB2 amplification called in plasma
    burden: float | None
    burden_group: str
    ttf_months: float | None
    ttf_event: int | None
    detected: list[tuple[float, bool]]  # (day, tumour DNA detected) per draw with a TF


def patient_summary(clinical: dict | None, burden: pd.DataFrame | None,
                    erbb2: pd.DataFrame | None, tf: pd.DataFrame | None) -> PatientSummary:
    """One patient's summary (tables already restricted to the patient; any may be None)."""
    clinical = clinical or {}
    brow = burden.iloc[0].to_dict() if burden is not None and not burden.empty else {}
    amp = _count(as_bool(erbb2["amplified"])) if erbb2 is not None and not erbb2.empty \
        else None
    detected = []
    if tf is not None and not tf.empty and "tf_detected" in tf:
        t = tf.assign(_d=as_bool(tf["tf_detected"])).sort_values("timepoint_days")
        detected = [(float(d), bool(x)) for d, x in zip(t["timepoint_days"], t["_d"])
                    if pd.notna(x) and pd.notna(d)]
    event = _num(clinical.get("ttf_event"))
    group = brow.get("her2_burden_group")
    return PatientSummary(
        her2_status=str(clinical.get("her2_status") or "").strip(), amplified_draws=amp,
        burden=_num(brow.get("her2_burden")),
        burden_group="" if group is None or pd.isna(group) else str(group),
        ttf_months=_num(clinical.get("ttf_months")),
        ttf_event=int(event) if event is not None else None, detected=detected)


def patient_sentences(s: PatientSummary, gene: str = "ERBB2") -> list[Sentence]:
    out = []
    words = f"HER2 status: {s.her2_status or 'not given'}"
    if s.amplified_draws is not None:
        words += (f"; {gene} amplification in plasma in {s.amplified_draws.k} of "
                  f"{s.amplified_draws.n} draws")
    out.append(Sentence(words + ".", "#erbb2"))
    if s.burden is not None:
        out.append(Sentence(f"Baseline HER2 ctDNA burden {s.burden:.3g}"
                            + (f" ({s.burden_group} burden group)" if s.burden_group else "")
                            + ".", "#summary"))
    if s.ttf_months is not None:
        out.append(Sentence(f"Time to treatment failure {fmt(s.ttf_months)} months ("
                            + ("treatment failure" if s.ttf_event == 1 else "censored") + ").",
                            "#summary"))
    if s.detected:
        k = sum(x for _, x in s.detected)
        days = ", ".join(f"day {d:g} {'detected' if x else 'not detected'}"
                         for d, x in s.detected)
        out.append(Sentence(f"Tumour DNA detected in {k} of {len(s.detected)} draws ({days}).",
                            "#tumour-fraction"))
    return out
