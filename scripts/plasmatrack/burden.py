"""HER2 ctDNA burden per patient at baseline, its on-treatment dynamics, and the cohort survival
analyses that link it to outcome.

Inputs are the published tables of earlier stages (``results/cnv/tumour_fraction.tsv``,
``results/cnv/erbb2.tsv``, ``results/variants/tracked_variants.tsv``), the sample sheet and the
clinical sheet, or the same tables written by :mod:`plasmatrack.import_calls` from another assay.
A stage table that is absent is tolerated (its components become NA and every row says so).

Definitions (see docs/cohort.md):

- plasma copy number PCN of ERBB2 (copies per cell-equivalent of cfDNA, 2 = normal);
- excess copies PCN - 2 = TF * (CN_tumour - 2) for an amplified tumour (diploid-genome
  equivalents);
- TF-adjusted tumour copy number 2 + (PCN - 2) / TF, not estimable (NA) when TF < a floor;
- ERBB2 mutant VAF: the largest VAF of a detected somatic, non-synonymous ERBB2 variant of the
  patient in that draw (0 when it tested not detected or the patient has no somatic ERBB2
  variant; NA when undetermined or when no variant data exist);
- primary metric ``altered_copies`` = max(PCN - 2, 0) + 2 * VAF_mut: ERBB2-altered copies per
  diploid genome equivalent in plasma (amplified: excess copies; mutant: a heterozygous
  mutation in a fraction f of the cells gives VAF ~ f/2, so 2 * VAF ~ mutant copies per diploid
  genome).

Days are whole days from treatment start (negative before); months = days / 30.4375."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import read_tsv, write_tsv
from .units import DAYS_PER_MONTH
from .survival import (
    AnalysisOptions,
    SurvivalResults,
    continuous_cox,
    group_comparison,
    marker_split_analysis,
    marker_vs_response,
    split_marker,
)

METRICS: dict[str, str] = {
    "altered_copies": "max(PCN - 2, 0) + 2 x ERBB2 mutant VAF (ERBB2-altered copies per diploid "
                      "genome equivalent in plasma)",
    "excess_copies": "max(PCN - 2, 0) (excess ERBB2 copies in plasma)",
    "tumour_copy_number": "TF-adjusted ERBB2 tumour copy number 2 + (PCN - 2) / TF",
    "tumour_fraction": "tumour fraction of the draw",
    "mutation_vaf": "ERBB2 mutant allele fraction",
}
PRIMARY_METRIC = "altered_copies"
RESPONSE_CATEGORIES = ("clearance", "response", "stable", "progression", "not_evaluable")

BURDEN_COLUMNS = [
    "patient_id", "baseline_sample_id", "timepoint_days", "tumour_fraction",
    "erbb2_plasma_copy_number", "erbb2_excess_copies", "erbb2_tumour_copy_number",
    "erbb2_amplified", "erbb2_mutation_vaf", "her2_burden", "her2_burden_group",
]
BURDEN_EXTRA = [
    "her2_burden_metric", "her2_burden_cutpoint", "tf_lower", "tf_upper", "tf_detected",
    "erbb2_mutation", "ctdna_detected", "n_draws", "in_survival", "note",
]
DRAW_COLUMNS = [
    "patient_id", "sample_id", "timepoint_days", "tumour_fraction", "tf_lower", "tf_upper",
    "tf_detected", "erbb2_plasma_copy_number", "erbb2_excess_copies",
    "erbb2_tumour_copy_number", "erbb2_amplified", "erbb2_mutation_vaf", "erbb2_mutation",
    "n_somatic_detected", "ctdna_detected", "her2_burden", "note",
]
DYNAMICS_COLUMNS = [
    "patient_id", "baseline_sample_id", "baseline_day", "on_treatment_sample_id",
    "on_treatment_day", "tf_baseline", "tf_on_treatment", "tf_ratio", "tf_log2_fold",
    "her2_burden_baseline", "her2_burden_on_treatment", "her2_burden_ratio",
    "her2_burden_log2_fold", "ctdna_detected_baseline", "ctdna_detected_on_treatment",
    "ctdna_clearance", "molecular_response", "molecular_responder", "note",
]
CLINICAL_DROP = ("row",)
ENDPOINTS = {"ttf": ("ttf_months", "ttf_event"), "os": ("os_months", "os_event")}

_SYNONYMOUS = re.compile(r"^(?:p\.)?([A-Z*])(\d+)\1$")

TF_COLUMNS = ("sample_id", "patient_id", "tumour_fraction")
ERBB2_COLUMNS = ("sample_id", "patient_id", "plasma_copy_number")
VARIANT_COLUMNS = ("sample_id", "patient_id", "gene", "vaf", "status", "category")


@dataclass(frozen=True)
class CohortSettings:
    """The ``cohort`` config section (defaults as in the schema). Windows are inclusive day
    ranges; None = unbounded."""

    baseline_window_days: tuple[int | None, int | None] = (-90, 0)
    on_treatment_window_days: tuple[int | None, int | None] = (1, 90)
    metric: str = PRIMARY_METRIC
    sensitivity_metrics: tuple[str, ...] = ("excess_copies", "tumour_copy_number",
                                            "tumour_fraction", "mutation_vaf")
    cutpoint: str | float = "median"
    min_prop: float = 0.1
    permutations: int = 2000
    maxstat_p: str = "gauss"
    seed: int = 1
    log_offset: float = 0.01
    tf_log_offset: float = 0.001
    covariates: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ("ttf", "os")
    landmark_months: float = 3.0
    response_metric: str = "tumour_fraction"
    response_ratio: float = 0.5
    progression_ratio: float = 2.0
    min_tf_for_tumour_cn: float = 0.03
    min_events_per_term: int = 10
    min_group_size: int = 5

    @classmethod
    def from_config(cls, section: dict | None) -> "CohortSettings":
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(f"config 'cohort': unknown key(s) {', '.join(unknown)}")
        for key in ("baseline_window_days", "on_treatment_window_days", "sensitivity_metrics",
                    "covariates", "endpoints"):
            if key in section and section[key] is not None:
                section[key] = tuple(section[key])
        if "cutpoint" in section:
            from .survival import parse_cutpoint

            section["cutpoint"] = parse_cutpoint(section["cutpoint"])
        settings = cls(**section)
        settings.check()
        return settings

    def check(self) -> None:
        problems = []
        for name in (self.metric, *self.sensitivity_metrics):
            if name not in METRICS:
                problems.append(f"config 'cohort': unknown metric {name!r} "
                                f"(one of: {', '.join(METRICS)})")
        if self.response_metric not in ("tumour_fraction", "her2_burden"):
            problems.append("config 'cohort.response_metric': use tumour_fraction or her2_burden")
        for endpoint in self.endpoints:
            if endpoint not in ENDPOINTS:
                problems.append(f"config 'cohort.endpoints': unknown endpoint {endpoint!r} "
                                f"(one of: {', '.join(ENDPOINTS)})")
        if self.maxstat_p not in ("gauss", "lausen94", "lausen92", "permutation"):
            problems.append(
                "config 'cohort.maxstat_p': use gauss, lausen94, lausen92 or permutation")
        if self.maxstat_p == "permutation" and self.permutations < 1:
            problems.append("config 'cohort': maxstat_p = permutation needs permutations >= 1")
        if not 0 < self.min_prop < 0.5:
            problems.append("config 'cohort.min_prop' must be between 0 and 0.5")
        if problems:
            raise InputError(problems)

    @property
    def options(self) -> AnalysisOptions:
        return AnalysisOptions(min_prop=self.min_prop, permutations=self.permutations,
                               seed=self.seed, maxstat_p=self.maxstat_p,
                               min_events_per_term=self.min_events_per_term,
                               min_group_size=self.min_group_size)


# --------------------------------------------------------------------------- reading

def read_stage_table(path: str | Path | None, required: tuple[str, ...],
                     what: str) -> pd.DataFrame | None:
    """A stage table, or None when ``path`` is None or the file does not exist. Raises
    InputError naming the file when a required column is missing."""
    if path is None or str(path) == "" or not Path(path).exists():
        return None
    df = read_tsv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: {what} table lacks column(s) {', '.join(missing)}")
    return df


def _as_bool(series: pd.Series) -> pd.Series:
    """True/False/NA from booleans, 0/1 or text (true/false/yes/no)."""
    def conv(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        text = str(v).strip().lower()
        if text in ("true", "1", "1.0", "yes", "y", "t"):
            return True
        if text in ("false", "0", "0.0", "no", "n", "f"):
            return False
        return pd.NA
    return series.map(conv).astype("boolean")


def _numeric(df: pd.DataFrame, col: str, path: object) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = df[col].notna() & values.isna()
    if bad.any():
        idx = int(np.flatnonzero(bad.values)[0])
        raise InputError(f"{path}, row {idx + 2}, column '{col}': {df[col].iloc[idx]!r} is not "
                         "a number")
    return values.astype(float)


# --------------------------------------------------------------------------- per draw

def is_synonymous(protein_change: object) -> bool:
    """Protein notation of a silent change, e.g. 'L266L' or 'p.T519T' (not a HER2 mutation)."""
    return bool(_SYNONYMOUS.match(str(protein_change).strip()))


def tumour_copy_number(pcn: pd.Series, tf: pd.Series, min_tf: float) -> pd.Series:
    """TF-adjusted tumour copy number 2 + (PCN - 2) / TF; NA where TF < ``min_tf`` (the ratio
    explodes as TF -> 0, so it is reported as not estimable, never as a huge number)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cn = 2 + (pcn - 2) / tf
    return cn.where(tf >= min_tf)


def metric_values(df: pd.DataFrame, metric: str) -> pd.Series:
    """One burden metric from the component columns of a draw or burden table."""
    pcn = df["erbb2_plasma_copy_number"].astype(float)
    vaf = df["erbb2_mutation_vaf"].astype(float)
    if metric == "altered_copies":
        amp = (pcn - 2).clip(lower=0)
        mut = 2 * vaf
        # A missing component counts as 0 only when the other is known (the draw's note says so);
        # both missing -> NA.
        value = amp.fillna(0) + mut.fillna(0)
        return value.where(pcn.notna() | vaf.notna())
    if metric == "excess_copies":
        return (pcn - 2).clip(lower=0)
    if metric == "tumour_copy_number":
        return df["erbb2_tumour_copy_number"].astype(float)
    if metric == "tumour_fraction":
        return df["tumour_fraction"].astype(float)
    if metric == "mutation_vaf":
        return vaf
    raise InputError(f"unknown HER2 burden metric {metric!r} (one of: {', '.join(METRICS)})")


def draw_metrics(tf: pd.DataFrame | None, erbb2: pd.DataFrame | None,
                 variants: pd.DataFrame | None, her2_gene: str = "ERBB2",
                 samples: pd.DataFrame | None = None,
                 settings: CohortSettings = CohortSettings(),
                 sources: dict[str, object] | None = None) -> pd.DataFrame:
    """HER2 metrics of every plasma draw (one row per sample; columns DRAW_COLUMNS).

    Draws are the plasma rows of ``samples`` when given, else every sample with a timepoint in
    the stage tables (normals have none). ``sources`` names the files in error messages."""
    sources = sources or {}
    if samples is not None:
        plasma = samples[samples["sample_type"] == "plasma"]
        draws = plasma[["patient_id", "sample_id", "timepoint_days"]].copy()
    else:
        frames = [t[["patient_id", "sample_id", "timepoint_days"]]
                  for t in (tf, erbb2) if t is not None and "timepoint_days" in t]
        if variants is not None and "timepoint_days" in variants:
            v = variants
            if "sample_type" in v:
                v = v[v["sample_type"].astype(str) != "normal"]
            frames.append(v[["patient_id", "sample_id", "timepoint_days"]])
        if not frames:
            raise InputError("no stage table with sample_id, patient_id and timepoint_days given")
        draws = pd.concat(frames).drop_duplicates("sample_id")
        draws = draws[pd.to_numeric(draws["timepoint_days"], errors="coerce").notna()]
    draws = draws.copy()
    draws["timepoint_days"] = pd.to_numeric(draws["timepoint_days"]).astype("Int64")
    draws = draws.sort_values(["patient_id", "timepoint_days", "sample_id"]).reset_index(drop=True)
    notes: dict[str, list[str]] = {s: [] for s in draws["sample_id"]}

    # tumour fraction
    if tf is not None:
        t = tf.drop_duplicates("sample_id").set_index("sample_id")
        src = sources.get("tumour_fraction", "tumour_fraction table")
        draws["tumour_fraction"] = draws["sample_id"].map(_numeric(t, "tumour_fraction", src))
        for col in ("tf_lower", "tf_upper"):
            draws[col] = (draws["sample_id"].map(_numeric(t, col, src)) if col in t
                          else np.nan)
        draws["tf_detected"] = (draws["sample_id"].map(_as_bool(t["tf_detected"]))
                                if "tf_detected" in t else pd.NA)
        draws["tf_detected"] = draws["tf_detected"].astype("boolean")
        for sid in draws.loc[draws["tumour_fraction"].isna(), "sample_id"]:
            notes[sid].append("no tumour fraction for this draw")
    else:
        for col in ("tumour_fraction", "tf_lower", "tf_upper"):
            draws[col] = np.nan
        draws["tf_detected"] = pd.Series(pd.NA, index=draws.index, dtype="boolean")
        for sid in draws["sample_id"]:
            notes[sid].append("no tumour-fraction table")

    # ERBB2 copy number
    if erbb2 is not None:
        e = erbb2
        if "gene" in e:
            e = e[e["gene"].astype(str) == her2_gene]
        e = e.drop_duplicates("sample_id").set_index("sample_id")
        src = sources.get("erbb2", "ERBB2 table")
        pcn = draws["sample_id"].map(_numeric(e, "plasma_copy_number", src))
        draws["erbb2_plasma_copy_number"] = pcn
        if "tumour_copy_number" in e:
            draws["erbb2_tumour_copy_number"] = draws["sample_id"].map(
                _numeric(e, "tumour_copy_number", src))
        else:
            draws["erbb2_tumour_copy_number"] = tumour_copy_number(
                pcn, draws["tumour_fraction"], settings.min_tf_for_tumour_cn)
        draws["erbb2_amplified"] = (draws["sample_id"].map(_as_bool(e["amplified"]))
                                    if "amplified" in e else pd.NA)
        draws["erbb2_amplified"] = draws["erbb2_amplified"].astype("boolean")
        for sid in draws.loc[pcn.isna(), "sample_id"]:
            notes[sid].append(f"no {her2_gene} copy number for this draw")
    else:
        draws["erbb2_plasma_copy_number"] = np.nan
        draws["erbb2_tumour_copy_number"] = np.nan
        draws["erbb2_amplified"] = pd.Series(pd.NA, index=draws.index, dtype="boolean")
        for sid in draws["sample_id"]:
            notes[sid].append(f"no {her2_gene} copy-number table: amplification not included")
    draws["erbb2_excess_copies"] = draws["erbb2_plasma_copy_number"] - 2

    # ERBB2 mutations and somatic detection
    if variants is not None:
        v = variants.copy()
        src = sources.get("variants", "variants table")
        v["vaf"] = _numeric(v, "vaf", src)
        somatic = v[v["category"].astype(str) == "somatic"]
        her2 = somatic[somatic["gene"].astype(str) == her2_gene]
        if "protein_change" in her2:
            her2 = her2[~her2["protein_change"].map(is_synonymous)]
        mutant_patients = set(her2["patient_id"])
        # A variant that tested negative counts as 0 (its measured VAF is background noise); one
        # that is undetermined (too few informative fragments) as unknown.
        status = her2["status"].astype(str)
        her2 = her2.assign(vaf=her2["vaf"].where(status == "detected",
                                                 np.where(status == "not_detected", 0.0, np.nan)))
        best = her2.sort_values("vaf", ascending=False, na_position="last") \
            .drop_duplicates("sample_id")
        vaf = draws["sample_id"].map(best.set_index("sample_id")["vaf"])
        label_col = next((c for c in ("protein_change", "alteration") if c in best), None)
        if label_col:
            labels = best.set_index("sample_id")[label_col]
        else:
            labels = best.set_index("sample_id").apply(
                lambda r: f"{r.get('chrom', '')}:{r.get('pos', '')}"
                          f"{r.get('ref', '')}>{r.get('alt', '')}", axis=1) \
                if len(best) else pd.Series(dtype=str)
        is_mutant = draws["patient_id"].isin(mutant_patients)
        draws["erbb2_mutation_vaf"] = vaf.where(is_mutant, 0.0)
        draws["erbb2_mutation"] = draws["sample_id"].map(labels).where(is_mutant, "")
        for sid in draws.loc[is_mutant & vaf.isna(), "sample_id"]:
            notes[sid].append(f"{her2_gene} variant of the patient not measured or undetermined "
                              "in this draw")
        detected = somatic[somatic["status"].astype(str) == "detected"]
        counts = detected.groupby("sample_id").size()
        draws["n_somatic_detected"] = draws["sample_id"].map(counts).fillna(0).astype(int)
    else:
        draws["erbb2_mutation_vaf"] = np.nan
        draws["erbb2_mutation"] = ""
        draws["n_somatic_detected"] = pd.Series(pd.NA, index=draws.index, dtype="Int64")
        for sid in draws["sample_id"]:
            notes[sid].append(f"no variant table: {her2_gene} mutant VAF not included")

    # ctDNA detected: by copy number (tf_detected) or by any detected somatic variant
    tf_det = draws["tf_detected"].astype("boolean")
    var_det = (draws["n_somatic_detected"].astype("Int64") > 0).astype("boolean")
    detected = tf_det.fillna(False) | var_det.fillna(False)
    known = tf_det.notna() | var_det.notna()
    draws["ctdna_detected"] = detected.where(known, pd.NA).astype("boolean")
    draws["her2_burden"] = metric_values(draws, settings.metric)
    draws["note"] = draws["sample_id"].map(lambda s: "; ".join(notes[s]))
    return draws[DRAW_COLUMNS]


# --------------------------------------------------------------------------- per patient

def _in_window(days: pd.Series, window: tuple[int | None, int | None]) -> pd.Series:
    lo, hi = window
    mask = days.notna()
    if lo is not None:
        mask &= days >= lo
    if hi is not None:
        mask &= days <= hi
    return mask.fillna(False).astype(bool)


def _window_text(window: tuple[int | None, int | None]) -> str:
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
    high/low group (see :func:`assign_burden_groups`) and the clinical columns."""
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
                         f"({_window_text(settings.baseline_window_days)})")
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
    ordered = BURDEN_COLUMNS + BURDEN_EXTRA
    for col in ordered:
        if col not in out:
            out[col] = pd.NA
    return out[ordered + [c for c in clinical_cols if c not in ordered]]


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


# --------------------------------------------------------------------------- dynamics

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
        b = base[col].astype(float).values
        o = on[col].astype(float).values
        out[f"{prefix}_baseline"] = b
        out[f"{prefix}_on_treatment"] = o
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{prefix}_ratio"] = np.where(b > 0, o / b, np.nan)
            out[f"{prefix}_log2_fold"] = np.log2((o + offset) / (b + offset))
    out["ctdna_detected_baseline"] = base["ctdna_detected"].astype("boolean").values
    out["ctdna_detected_on_treatment"] = on["ctdna_detected"].astype("boolean").values
    bd = out["ctdna_detected_baseline"]
    od = out["ctdna_detected_on_treatment"]
    clearance = (bd == True) & (od == False)  # noqa: E712 (nullable booleans)
    out["ctdna_clearance"] = clearance.where(bd.notna() & od.notna(), pd.NA).astype("boolean")
    ratio_col = "tf_ratio" if settings.response_metric == "tumour_fraction" else "her2_burden_ratio"
    categories, notes = [], []
    for i, row in out.iterrows():
        note = []
        if pd.isna(row["baseline_sample_id"]):
            note.append("no baseline draw")
        if pd.isna(row["on_treatment_sample_id"]):
            note.append(f"no on-treatment draw ({_window_text(settings.on_treatment_window_days)})")
        base_detected = bd.iloc[i]
        ratio = row[ratio_col]
        if note:
            category = "not_evaluable"
        elif pd.isna(base_detected) or not bool(base_detected):
            note.append("ctDNA not detected at baseline" if pd.notna(base_detected)
                        else "ctDNA detection at baseline unknown")
            category = "not_evaluable"
        elif bool(clearance.fillna(False).iloc[i]):
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
        categories.append(category)
        notes.append("; ".join(note))
    out["molecular_response"] = categories
    responder = out["molecular_response"].isin(["clearance", "response"])
    out["molecular_responder"] = responder.astype("boolean").where(
        out["molecular_response"] != "not_evaluable", pd.NA)
    out["note"] = notes
    return out[DYNAMICS_COLUMNS]


# --------------------------------------------------------------------------- survival

def _left_out_note(burden: pd.DataFrame, sub: pd.DataFrame, endpoint: str) -> str:
    left = burden[~burden["patient_id"].isin(sub["patient_id"])]
    if left.empty:
        return ""
    ids = ", ".join(left["patient_id"].astype(str).tolist()[:10])
    more = "" if len(left) <= 10 else f" and {len(left) - 10} more"
    return (f"{len(left)} patient(s) left out (no clinical {endpoint.upper()} data or no HER2 "
            f"burden): {ids}{more}")


def _append_note(results: SurvivalResults, start: int, note: str) -> None:
    if not note:
        return
    for row in results.rows[start:]:
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
    options = settings.options
    covariates = list(settings.covariates)
    missing_cov = [c for c in covariates if c not in burden.columns]
    if missing_cov:
        raise InputError(f"config 'cohort.covariates': clinical column(s) not found: "
                         f"{', '.join(missing_cov)}")
    for endpoint in settings.endpoints:
        time_col, event_col = ENDPOINTS[endpoint]
        sub = survival_subset(burden, endpoint)
        if time_col not in burden:
            if endpoint != "ttf":
                continue  # OS is optional in the clinical sheet
        start = len(results.rows)
        if len(sub) == 0:
            results.rows.append({"analysis": f"{endpoint}_burden", "endpoint": endpoint,
                                 "n": 0, "events": 0, "small_cohort": True,
                                 "note": "not estimable: no patient with both a HER2 burden "
                                         f"and {endpoint.upper()} data"})
            continue
        label = f"her2_burden[{settings.metric}]"
        cut = settings.cutpoint
        cut_name = cut if isinstance(cut, str) else "value"
        res, _ = marker_split_analysis(sub, time_col, event_col, "her2_burden",
                                       f"{endpoint}_burden_{cut_name}", endpoint, cut,
                                       options=options, marker_label=label)
        results.extend(res)
        if cut != "maxstat":
            res, _ = marker_split_analysis(sub, time_col, event_col, "her2_burden",
                                           f"{endpoint}_burden_maxstat", endpoint, "maxstat",
                                           options=options, marker_label=label)
            results.extend(res)
        results.extend(continuous_cox(sub, time_col, event_col, "her2_burden",
                                      f"{endpoint}_burden_cox", endpoint, log=True,
                                      log_offset=settings.log_offset, options=options,
                                      marker_label=label))
        if covariates:
            cc = sub.dropna(subset=covariates)
            results.extend(continuous_cox(cc, time_col, event_col, "her2_burden",
                                          f"{endpoint}_burden_cox_adjusted", endpoint, log=True,
                                          log_offset=settings.log_offset, covariates=covariates,
                                          options=options, marker_label=label))
        for metric in settings.sensitivity_metrics:
            if metric == settings.metric:
                continue
            values = metric_values(burden, metric)
            alt = burden.assign(_metric=values)
            alt_sub = survival_subset(alt, endpoint, "_metric")
            if len(alt_sub) == 0:
                results.rows.append({"analysis": f"{endpoint}_cox_{metric}",
                                     "endpoint": endpoint, "n": 0, "events": 0,
                                     "small_cohort": True,
                                     "note": f"not estimable: no patient has {metric}"})
                continue
            offset = settings.tf_log_offset if metric in ("tumour_fraction", "mutation_vaf") \
                else settings.log_offset
            results.extend(continuous_cox(alt_sub, time_col, event_col, "_metric",
                                          f"{endpoint}_cox_{metric}", endpoint, log=True,
                                          log_offset=offset, options=options,
                                          marker_label=metric))
        _append_note(results, start, _left_out_note(burden, sub, endpoint))
        if dynamics is not None:
            results.extend(landmark_analysis(burden, dynamics, endpoint, settings))
    if "best_response" in burden:
        results.extend(marker_vs_response(burden, "her2_burden", "best_response",
                                          "burden_vs_best_response", options=options,
                                          marker_label=f"her2_burden[{settings.metric}]"))
    return results


def landmark_analysis(burden: pd.DataFrame, dynamics: pd.DataFrame, endpoint: str,
                      settings: CohortSettings = CohortSettings()) -> SurvivalResults:
    """Landmark analysis of the on-treatment change: patients still event-free and followed at
    ``landmark_months`` whose on-treatment draw was taken by then; time counted from the
    landmark. Molecular responders vs non-responders (KM, log-rank, Cox) and a Cox model of the
    continuous log2 fold change of TF."""
    results = SurvivalResults()
    time_col, event_col = ENDPOINTS[endpoint]
    if time_col not in burden:
        return results
    landmark = settings.landmark_months
    df = burden[["patient_id", time_col, event_col]].merge(dynamics, on="patient_id")
    df = df[df[time_col].notna() & df[event_col].notna()].copy()
    df[time_col] = df[time_col].astype(float)
    df[event_col] = df[event_col].astype(int)
    n_all = len(df)
    at_risk = df[df[time_col] > landmark]
    drawn = at_risk[at_risk["on_treatment_day"].astype(float) <= landmark * DAYS_PER_MONTH]
    evaluable = drawn[drawn["molecular_responder"].notna()].copy()
    evaluable[time_col] = evaluable[time_col] - landmark
    note = (f"landmark {landmark:g} months: {n_all} patients with {endpoint.upper()} data, "
            f"{len(at_risk)} event-free and followed at the landmark, {len(drawn)} with an "
            f"on-treatment draw by then, {len(evaluable)} evaluable for molecular response")
    name = f"{endpoint}_landmark_molecular_response"
    if len(evaluable) < 2:
        results.rows.append({"analysis": name, "endpoint": endpoint, "n": len(evaluable),
                             "events": int(evaluable[event_col].sum()) if len(evaluable) else 0,
                             "grouping": "molecular responder vs non-responder",
                             "small_cohort": True, "note": f"not estimable; {note}"})
        return results
    groups = np.where(evaluable["molecular_responder"].astype(bool), "responder",
                      "non-responder")
    res = group_comparison(evaluable, time_col, event_col,
                           pd.Series(groups, index=evaluable.index), name, endpoint,
                           "molecular response", reference="non-responder",
                           options=settings.options)
    _append_note(res, 0, note)
    results.extend(res)
    fold = drawn[drawn["tf_log2_fold"].notna()].copy()
    fold[time_col] = fold[time_col] - landmark
    if len(fold) >= 2:
        res = continuous_cox(fold, time_col, event_col, "tf_log2_fold",
                             f"{endpoint}_landmark_cox_tf_log2_fold", endpoint, log=False,
                             options=settings.options, marker_label="TF log2 fold change")
        _append_note(res, 0, f"landmark {landmark:g} months; HR per doubling of TF")
        results.extend(res)
    return results


# --------------------------------------------------------------------------- entry points

@dataclass
class CohortTables:
    draws: pd.DataFrame
    burden: pd.DataFrame
    dynamics: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def build_cohort_tables(tumour_fraction: str | Path | None, erbb2: str | Path | None,
                        variants: str | Path | None, clinical: str | Path | None,
                        samples: str | Path | None = None, her2_gene: str = "ERBB2",
                        settings: CohortSettings = CohortSettings()) -> CohortTables:
    """Read the stage tables and sheets and compute the per-draw, per-patient and dynamics
    tables. Any stage table may be None/absent (its components are then NA, and the notes say
    so); the clinical sheet is validated with :func:`plasmatrack.sheets.load_clinical`."""
    from .sheets import load_clinical, load_samples

    warnings: list[str] = []
    sample_df = load_samples(samples, check_files=False) if samples else None
    tf_df = read_stage_table(tumour_fraction, TF_COLUMNS, "tumour fraction")
    erbb2_df = read_stage_table(erbb2, ERBB2_COLUMNS, her2_gene)
    var_df = read_stage_table(variants, VARIANT_COLUMNS, "tracked variants")
    for path, df, what in ((tumour_fraction, tf_df, "tumour fraction"),
                           (erbb2, erbb2_df, f"{her2_gene} copy number"),
                           (variants, var_df, "tracked variants")):
        if df is None:
            warnings.append(f"{what} table {path or '(not given)'} absent: its components are NA")
    draws = draw_metrics(tf_df, erbb2_df, var_df, her2_gene, sample_df, settings,
                         sources={"tumour_fraction": tumour_fraction, "erbb2": erbb2,
                                  "variants": variants})
    patients = sorted(sample_df["patient_id"].unique()) if sample_df is not None else None
    clin = None
    if clinical:
        validated = load_clinical(clinical, patients=set(patients) if patients else None)
        clin = validated.table
        warnings += validated.warnings
        if patients is not None:
            clin = clin[clin["patient_id"].isin(patients)]
    burden = burden_table(draws, clin, settings, patients)
    burden, _, message = assign_burden_groups(burden, settings)
    if message:
        warnings.append(message)
    dynamics = dynamics_table(draws, settings, patients)
    return CohortTables(draws=draws, burden=burden, dynamics=dynamics, warnings=warnings)


def write_cohort_tables(tables: CohortTables, burden_path: str | Path,
                        dynamics_path: str | Path, draws_path: str | Path | None = None) -> None:
    write_tsv(tables.burden, burden_path)
    write_tsv(tables.dynamics, dynamics_path)
    if draws_path is not None:
        write_tsv(tables.draws, draws_path)


def read_burden(path: str | Path) -> pd.DataFrame:
    """her2_burden.tsv back into memory with the types the survival code expects."""
    df = read_tsv(path)
    for col in ("ttf_event", "os_event"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def run_cohort_survival(burden_path: str | Path, dynamics_path: str | Path | None,
                        out_dir: str | Path, settings: CohortSettings = CohortSettings()
                        ) -> dict[str, str]:
    """Survival analyses of a cohort from her2_burden.tsv (+ dynamics.tsv); writes
    survival.tsv, km_curves.tsv, km_at_risk.tsv, cox_terms.tsv, maxstat_cuts.tsv."""
    from .survival import write_results

    burden = read_burden(burden_path)
    dynamics = read_tsv(dynamics_path) if dynamics_path and Path(dynamics_path).exists() else None
    if dynamics is not None:
        dynamics["molecular_responder"] = _as_bool(dynamics["molecular_responder"])
    results = cohort_survival(burden, dynamics, settings)
    return write_results(results, out_dir)
