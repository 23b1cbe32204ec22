"""Import long tables of external plasma calls (commercial panels such as Guardant360 or
FoundationOne Liquid: one row per reported alteration per draw) into plasmatrack's stage tables,
so that the same per-patient HER2 metrics, dynamics and survival analyses run on them.

A row: patient, draw date, gene, alteration, VAF, plasma copy number. Rows reporting a copy
number are amplification calls; rows with a VAF are sequence alterations (SNV, indel, fusion);
a row with no gene is a draw in which nothing was reported. Absence of an alteration in a draw
means it was not reported: the importer writes it as ``not_detected`` with VAF 0.

What the vendor tables do not give is derived and documented (docs/cohort.md):

- tumour fraction of a draw = 2 x the largest VAF (capped at 1; ``tf_from="max_vaf"`` for the
  largest VAF itself), tf_detected = at least one sequence alteration reported;
- ERBB2 plasma copy number = the reported copy number; 2 (normal) when no ERBB2 amplification was
  reported (vendors report copy number only above their calling threshold);
- ERBB2 mutant VAF: the largest VAF of a non-synonymous ERBB2 sequence alteration;
- cumulative VAF (sum of all reported VAFs) and max VAF per draw, the usual "%ctDNA" summaries.

Dates are numbers of days (any origin) or calendar dates; day 0 of a patient is the first draw,
or the treatment start given in a clinical column. VAFs are fractions (0-1) in every output,
whatever the input unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cohort.burden import burden_table
from .cohort.draws import draw_metrics, is_synonymous
from .cohort.dynamics import dynamics_table
from .cohort.outcome import assign_burden_groups
from .cohort.settings import CohortSettings
from .errors import InputError
from .ids import id_problem
from .io import write_tsv

# VAF sums are rounded to this many decimals so that 1.8% read as 0.018 compares equal to a
# cut-point typed as 0.018 (binary floating point would leave 0.018000000000000002).
VAF_DECIMALS = 10


@dataclass(frozen=True)
class CallColumns:
    """Names of the input columns (defaults: plasmatrack's own names)."""

    patient: str = "patient_id"
    date: str = "draw_date"
    gene: str = "gene"
    alteration: str = "alteration"
    vaf: str = "vaf"
    copy_number: str = "plasma_copy_number"


@dataclass
class ImportedCalls:
    """Stage-format tables built from external calls."""

    draws: pd.DataFrame  # one row per draw: ids, day, counts, max/cumulative VAF, TF, ERBB2
    tumour_fraction: pd.DataFrame
    erbb2: pd.DataFrame
    variants: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def read_table(path: str | Path) -> pd.DataFrame:
    """CSV or TSV by extension (.csv -> comma, else tab); every column read as text first."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True, comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a {'CSV' if sep == ',' else 'TSV'} table "
                         f"({exc})") from None


def parse_days(values: pd.Series, source: str, column: str) -> pd.Series:
    """Draw dates as float days: numbers as they are, otherwise calendar dates (days since
    1970-01-01)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return numeric.astype(float)
    dates = pd.to_datetime(values, errors="coerce")
    bad = values.notna() & dates.isna()
    if bad.any():
        idx = int(np.flatnonzero(bad.values)[0])
        raise InputError(f"{source}, row {idx + 2}, column '{column}': {values.iloc[idx]!r} is "
                         "neither a number of days nor a date")
    return (dates - pd.Timestamp("1970-01-01")).dt.days.astype(float)


def _float(values: pd.Series, source: str, column: str) -> pd.Series:
    numeric = pd.to_numeric(values.str.strip().str.rstrip("%") if values.dtype == object
                            else values, errors="coerce")
    bad = values.notna() & (values.astype(str).str.strip() != "") & numeric.isna()
    if bad.any():
        idx = int(np.flatnonzero(bad.values)[0])
        raise InputError(f"{source}, row {idx + 2}, column '{column}': {values.iloc[idx]!r} is "
                         "not a number")
    return numeric.astype(float)


def import_calls(calls: pd.DataFrame, columns: CallColumns = CallColumns(),
                 vaf_unit: str = "percent", her2_gene: str = "ERBB2",
                 tf_from: str = "2x_max_vaf", day_zero: dict[str, float] | None = None,
                 source: str = "calls") -> ImportedCalls:
    """Turn a long table of external calls into stage tables (see the module docstring).

    ``vaf_unit``: 'percent' (0-100, e.g. Guardant's %cfDNA) or 'fraction' (0-1).
    ``day_zero``: patient -> treatment start in the units of the date column (after date
    parsing: days); patients not in it start at their first draw."""
    if vaf_unit not in ("percent", "fraction"):
        raise InputError("vaf unit: use 'percent' or 'fraction'")
    if tf_from not in ("2x_max_vaf", "max_vaf"):
        raise InputError("tumour fraction from: use '2x_max_vaf' or 'max_vaf'")
    df = _normalised_calls(calls, columns, vaf_unit, source)
    _add_draw_ids(df, day_zero, source)
    warnings: list[str] = []
    is_cn = df["copy_number"].notna() & (df["gene"] != "")
    is_seq = ~is_cn & (df["gene"] != "") & df["vaf"].notna()
    seq = df[is_seq]
    dup = seq.duplicated(["sample_id", "gene", "alteration"], keep=False)
    if dup.any():
        warnings.append(f"{source}: {int(dup.sum())} rows repeat an alteration within a draw; "
                        "each is counted in the cumulative VAF as reported")
    factor = 2.0 if tf_from == "2x_max_vaf" else 1.0
    draws = _draw_table(df, seq, df[is_cn & (df["gene"] == her2_gene)], factor)
    variants = _variant_table(seq, draws)
    her2_seq = seq[(seq["gene"] == her2_gene) & ~seq["alteration"].map(is_synonymous)]
    if her2_seq.empty:
        warnings.append(f"{source}: no {her2_gene} sequence alteration reported")
    return ImportedCalls(draws=draws, tumour_fraction=_tf_table(draws, factor),
                         erbb2=_erbb2_table(draws, her2_gene), variants=variants,
                         warnings=warnings)


def _normalised_calls(calls: pd.DataFrame, columns: CallColumns, vaf_unit: str,
                      source: str) -> pd.DataFrame:
    """The calls under plasmatrack's names (patient_id, day_raw, gene, alteration, vaf as a
    fraction, copy_number), checked: valid patient IDs, a date on every row, VAF within range."""
    need = [columns.patient, columns.date, columns.gene, columns.vaf]
    missing = [c for c in need if c not in calls.columns]
    if missing:
        raise InputError(f"{source}: required column(s) not found: {', '.join(missing)} "
                         f"(columns: {', '.join(calls.columns)})")
    df = pd.DataFrame({
        "patient_id": calls[columns.patient].astype(str).str.strip(),
        "day_raw": parse_days(calls[columns.date], source, columns.date),
        "gene": calls[columns.gene].fillna("").astype(str).str.strip(),
        "alteration": (calls[columns.alteration].fillna("").astype(str).str.strip()
                       if columns.alteration in calls else ""),
        "vaf": _float(calls[columns.vaf], source, columns.vaf),
        "copy_number": (_float(calls[columns.copy_number], source, columns.copy_number)
                        if columns.copy_number in calls else np.nan),
    })
    problems = []
    for idx, pid in df["patient_id"].items():
        why = id_problem(pid)
        if why:
            problems.append(f"{source}, row {idx + 2}, column '{columns.patient}': {why}")
    for idx in df.index[df["day_raw"].isna()]:
        problems.append(f"{source}, row {idx + 2}, column '{columns.date}': no draw date")
    if problems:
        raise InputError(problems[:20])
    if vaf_unit == "percent":
        df["vaf"] = df["vaf"] / 100
    if ((df["vaf"] < 0) | (df["vaf"] > 1)).any():
        idx = int(df.index[(df["vaf"] < 0) | (df["vaf"] > 1)][0])
        raise InputError(f"{source}, row {idx + 2}, column '{columns.vaf}': VAF outside 0-"
                         f"{'100' if vaf_unit == 'percent' else '1'} ({vaf_unit})")
    df["vaf"] = df["vaf"].round(VAF_DECIMALS)
    return df


def _add_draw_ids(df: pd.DataFrame, day_zero: dict[str, float] | None, source: str) -> None:
    """Add timepoint_days (whole days from the patient's day 0) and sample_id
    (``<patient>_d<day>``) to the normalised calls."""
    first = df.groupby("patient_id")["day_raw"].min()
    zero = first.copy()
    for pid, value in (day_zero or {}).items():
        if pid in zero.index and pd.notna(value):
            zero[pid] = value
    df["timepoint_days"] = (df["day_raw"] - df["patient_id"].map(zero)).round().astype(int)
    df["sample_id"] = df["patient_id"] + "_d" + df["timepoint_days"].astype(str)
    bad_ids = sorted({s for s in df["sample_id"] if id_problem(s)})
    if bad_ids:
        raise InputError(f"{source}: derived sample IDs are not valid identifiers: "
                         f"{', '.join(bad_ids[:5])}")


def _draw_table(df: pd.DataFrame, seq: pd.DataFrame, her2_cn_calls: pd.DataFrame,
                factor: float) -> pd.DataFrame:
    """One row per draw: ids, day, number of alterations, max and cumulative VAF, tumour
    fraction (``factor`` x max VAF, at most 1) and the ERBB2 copy number (2 when not called)."""
    draws = (df[["patient_id", "sample_id", "timepoint_days"]].drop_duplicates("sample_id")
             .sort_values(["patient_id", "timepoint_days"]).reset_index(drop=True))
    grouped = seq.groupby("sample_id")["vaf"]
    draws["n_alterations"] = draws["sample_id"].map(seq[seq["vaf"] > 0].groupby("sample_id")
                                                    .size()).fillna(0).astype(int)
    draws["max_vaf"] = draws["sample_id"].map(grouped.max()).fillna(0.0)
    draws["cumulative_vaf"] = draws["sample_id"].map(grouped.sum()).fillna(0.0).round(VAF_DECIMALS)
    draws["tumour_fraction"] = (factor * draws["max_vaf"]).clip(upper=1.0)
    draws["tf_detected"] = draws["n_alterations"] > 0
    her2_cn = her2_cn_calls.groupby("sample_id")["copy_number"].max()
    draws["erbb2_amplified"] = draws["sample_id"].isin(her2_cn.index)
    draws["erbb2_plasma_copy_number"] = draws["sample_id"].map(her2_cn).fillna(2.0)
    return draws


def _tf_table(draws: pd.DataFrame, factor: float) -> pd.DataFrame:
    """The tumour-fraction stage table of the draws (no interval, no ploidy)."""
    tf_table = draws[["sample_id", "patient_id", "timepoint_days", "tumour_fraction"]].copy()
    tf_table["tf_lower"] = np.nan
    tf_table["tf_upper"] = np.nan
    tf_table["ploidy"] = np.nan
    tf_table["tf_detected"] = draws["tf_detected"]
    tf_table["method"] = f"imported calls: {'2 x max VAF' if factor == 2 else 'max VAF'}"
    return tf_table


def _erbb2_table(draws: pd.DataFrame, her2_gene: str) -> pd.DataFrame:
    """The ERBB2 copy-number stage table of the draws."""
    return pd.DataFrame({
        "sample_id": draws["sample_id"], "patient_id": draws["patient_id"],
        "timepoint_days": draws["timepoint_days"], "gene": her2_gene,
        "plasma_copy_number": draws["erbb2_plasma_copy_number"],
        "amplified": draws["erbb2_amplified"],
    })


def _variant_table(seq: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """The tracked-variants stage table: every sequence alteration of a patient in every draw of
    that patient, reported -> detected with its VAF, not reported -> not_detected with VAF 0."""
    variant_keys = seq[["patient_id", "gene", "alteration"]].drop_duplicates()
    grid = draws[["patient_id", "sample_id", "timepoint_days"]].merge(variant_keys,
                                                                      on="patient_id")
    reported = seq.groupby(["sample_id", "gene", "alteration"], as_index=False)["vaf"].max()
    variants = grid.merge(reported, on=["sample_id", "gene", "alteration"], how="left")
    variants["status"] = np.where(variants["vaf"].notna(), "detected", "not_detected")
    variants["vaf"] = variants["vaf"].fillna(0.0)
    variants["sample_type"] = "plasma"
    variants["category"] = "somatic"
    # cohort.draws.draw_metrics reads protein_change to leave silent changes out of the
    # HER2 mutation
    variants["protein_change"] = variants["alteration"]
    variants = variants[["patient_id", "sample_id", "sample_type", "timepoint_days", "gene",
                         "alteration", "protein_change", "vaf", "status", "category"]]
    return variants.sort_values(["patient_id", "timepoint_days", "gene",
                                 "alteration"]).reset_index(drop=True)


def patient_table(imported: ImportedCalls, clinical: pd.DataFrame | None = None,
                  clinical_patient_col: str = "patient_id", her2_gene: str = "ERBB2",
                  settings: CohortSettings = CohortSettings()) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """Per-patient HER2 metrics at baseline (the same columns as her2_burden.tsv, through the
    same code) plus the baseline draw's max and cumulative VAF, joined with any clinical table
    (all its columns, as given); and the dynamics table."""
    draws = draw_metrics(imported.tumour_fraction, imported.erbb2, imported.variants,
                         her2_gene=her2_gene, settings=settings)
    burden = burden_table(draws, None, settings)
    burden["note"] = burden["note"].str.replace(
        "no clinical row: left out of survival analyses", "", regex=False).str.strip("; ")
    extras = imported.draws.set_index("sample_id")[["n_alterations", "max_vaf",
                                                    "cumulative_vaf"]]
    for col in extras.columns:
        burden[f"baseline_{col}"] = burden["baseline_sample_id"].map(extras[col])
    if clinical is not None:
        if clinical_patient_col not in clinical.columns:
            raise InputError(f"clinical table: column '{clinical_patient_col}' not found")
        clin = clinical.rename(columns={clinical_patient_col: "patient_id"})
        clin["patient_id"] = clin["patient_id"].astype(str).str.strip()
        clash = [c for c in clin.columns if c != "patient_id" and c in burden.columns]
        clin = clin.rename(columns={c: f"clinical_{c}" for c in clash})
        burden = burden.merge(clin, on="patient_id", how="left")
        if {"ttf_months", "ttf_event"} <= set(burden.columns):
            burden, _, _ = assign_burden_groups(burden, settings)
    dynamics = dynamics_table(draws, settings)
    return burden, dynamics


def write_imported(imported: ImportedCalls, out_dir: str | Path,
                   patients: pd.DataFrame | None = None,
                   dynamics: pd.DataFrame | None = None) -> dict[str, str]:
    """Write the stage tables (tumour_fraction.tsv, erbb2.tsv, tracked_variants.tsv), the
    per-draw summary (draws.tsv) and, when given, patients.tsv and dynamics.tsv."""
    out_dir = Path(out_dir)
    paths = {"draws": out_dir / "draws.tsv",
             "tumour_fraction": out_dir / "tumour_fraction.tsv",
             "erbb2": out_dir / "erbb2.tsv",
             "tracked_variants": out_dir / "tracked_variants.tsv"}
    write_tsv(imported.draws, paths["draws"], float_format=None)
    write_tsv(imported.tumour_fraction, paths["tumour_fraction"], float_format=None)
    write_tsv(imported.erbb2, paths["erbb2"], float_format=None)
    write_tsv(imported.variants, paths["tracked_variants"], float_format=None)
    if patients is not None:
        paths["patients"] = out_dir / "patients.tsv"
        write_tsv(patients, paths["patients"], float_format=None)
    if dynamics is not None:
        paths["dynamics"] = out_dir / "dynamics.tsv"
        write_tsv(dynamics, paths["dynamics"])
    return {k: str(v) for k, v in paths.items()}
