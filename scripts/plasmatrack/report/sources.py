"""Where the reports' inputs are and how they are read.

The reports read only the published tables of docs/architecture.md. Every stage table is
optional: a page renders with whatever stages have run and says what is not available. A table
that is present but breaks the contract (a missing column, a non-numeric value in a numeric
column) raises :class:`~plasmatrack.errors.InputError` naming the file, the row and the column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import tables
from ..errors import InputError, where
from ..io import as_bool, read_tsv

# The published tables a report reads (plasmatrack.tables), paths relative to the results folder.
_COHORT_TABLES = (tables.QC_SUMMARY, tables.TUMOUR_FRACTION, tables.GENES, tables.ERBB2,
                  tables.TRACKED_VARIANTS, tables.SNV_TUMOUR_FRACTION, tables.VARIANT_CLUSTERS,
                  tables.CLUSTER_PREVALENCE, tables.TREE, tables.EVENTS, tables.HER2_BURDEN,
                  tables.SURVIVAL, tables.DYNAMICS, tables.KM_CURVES, tables.MRD_CALLS,
                  tables.IDENTITY,
                  tables.UMI_SUMMARY)  # UMI tables: only runs with UMIs have them (issue 20)
_SAMPLE_TABLES = (tables.CNR, tables.CNS, tables.FRAGMENT_LENGTHS, tables.UMI_FAMILY_SIZES)
TABLES: dict[str, str] = {t.name: t.in_results for t in _COHORT_TABLES}

# Per-sample files: kind -> path pattern relative to the results folder.
PER_SAMPLE: dict[str, str] = {t.name: t.in_results for t in _SAMPLE_TABLES}

# The columns a page may rely on: the registry's required columns (stages may add more).
REQUIRED: dict[str, tuple[str, ...]] = {t.name: t.required
                                        for t in (*_COHORT_TABLES, *_SAMPLE_TABLES)}

NUMERIC: dict[str, tuple[str, ...]] = {
    "tumour_fraction": ("timepoint_days", "tumour_fraction", "tf_lower", "tf_upper"),
    "genes": ("timepoint_days", "plasma_copy_number"),
    "erbb2": ("timepoint_days", "plasma_copy_number", "tumour_copy_number",
              "tumour_copy_number_lower", "tumour_copy_number_upper"),
    "tracked_variants": ("timepoint_days", "pos", "vaf", "vaf_lower", "vaf_upper"),
    "snv_tumour_fraction": ("timepoint_days", "tumour_fraction_snv", "tf_snv_lower",
                            "tf_snv_upper"),
    "variant_clusters": ("pos",),
    "cluster_prevalence": ("timepoint_days", "prevalence", "prevalence_lower",
                           "prevalence_upper"),
    "her2_burden": ("her2_burden",),
    "mrd_calls": ("timepoint_days", "n_variants", "tumour_fraction", "tf_lower", "tf_upper",
                  "p_value", "lod95"),
    "survival": ("n", "events", "p_value", "hazard_ratio", "hr_lower", "hr_upper"),
    "km_curves": ("time", "survival", "ci_lower", "ci_upper", "at_risk"),
    "cnr": ("start", "end", "log2"),
    "cns": ("start", "end", "log2"),
    "fragment_lengths": ("length", "count"),
    "umi_summary": ("reads", "families", "families_ge2", "families_ge3", "molecules",
                    "duplex_molecules", "duplex_yield", "error_rate_raw", "error_rate_single",
                    "error_rate_duplex"),
    "umi_family_sizes": ("family_size", "families"),
    "identity": ("relatedness", "informative_sites"),
}

# Columns that hold identifiers and must stay strings (cluster 1 is not the number 1.0).
_STRING_COLUMNS = {"sample_id": str, "patient_id": str, "cluster_id": str,
                   "parent_cluster_id": str, "chrom": str, "chromosome": str, "gene": str,
                   "group": str, "analysis": str, "baseline_sample_id": str,
                   "sample_a": str, "sample_b": str, "patient_a": str, "patient_b": str}

def check_table(df: pd.DataFrame, kind: str, path: os.PathLike | str) -> pd.DataFrame:
    """Check the required columns of a ``kind`` table and make its numeric columns numbers.

    Raises InputError naming the file, the row (line number in the file, header = 1) and the
    column of each problem."""
    problems = []
    missing = [c for c in REQUIRED.get(kind, ()) if c not in df.columns]
    if missing:
        problems.append(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} "
                        f"(the published {kind} table has them)")
        raise InputError(problems)
    for col in NUMERIC.get(kind, ()):
        if col not in df.columns or pd.api.types.is_numeric_dtype(df[col]):
            continue
        text = df[col].astype("string").str.strip()
        parsed = pd.to_numeric(text.replace({"": None, "NA": None, "nan": None, "NaN": None}),
                               errors="coerce")
        bad = parsed.isna() & text.notna() & ~text.isin(["", "NA", "nan", "NaN"])
        for idx in list(np.flatnonzero(bad.to_numpy()))[:5]:
            problems.append(f"{where(path, int(idx) + 2, col)}: {text.iloc[idx]!r} is not a number")
        df[col] = parsed
    if problems:
        raise InputError(problems)
    return df


def read_table(path: os.PathLike | str, kind: str) -> pd.DataFrame:
    """Read one published table (TSV; CNVkit .cnr/.cns are TSV too) and check it."""
    try:
        df = read_tsv(path, dtype=_STRING_COLUMNS, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file (expected a {kind} table with a header)") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a tab-separated table ({exc})") from None
    return check_table(df, kind, path)


@dataclass
class Sources:
    """Paths of everything a report may show. Absent tables are simply not in ``tables``."""

    tables: dict[str, Path] = field(default_factory=dict)
    # kind -> sample_id -> path (kinds of PER_SAMPLE)
    per_sample: dict[str, dict[str, Path]] = field(default_factory=dict)
    samples_sheet: Path | None = None
    clinical_sheet: Path | None = None
    genes_bed: Path | None = None
    truth: Path | None = None
    config: dict | None = None

    @classmethod
    def from_results_dir(cls, results: os.PathLike | str, **kwargs) -> "Sources":
        """Find the published tables under a results folder (the CLI's way)."""
        results = Path(results)
        tables = {name: results / rel for name, rel in TABLES.items()
                  if (results / rel).is_file()}
        per_sample: dict[str, dict[str, Path]] = {}
        for kind, pattern in PER_SAMPLE.items():
            stage, _, name = pattern.split("/")
            suffix = name.replace("{sample}", "")
            found = {}
            for path in sorted(results.glob(f"{stage}/*/*{suffix}")):
                found[path.name[: -len(suffix)]] = path
            per_sample[kind] = found
        return cls(tables=tables, per_sample=per_sample,
                   **{k: (Path(v) if isinstance(v, (str, os.PathLike)) and k != "config" else v)
                      for k, v in kwargs.items()})

    @classmethod
    def from_files(cls, tables: dict[str, str], per_sample: dict[str, list[str]],
                   **kwargs) -> "Sources":
        """Build from explicit paths (the Snakemake rule's named inputs). ``per_sample`` maps a
        kind of PER_SAMPLE to its files; the sample ID is the file name without the suffix."""
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown report tables: {sorted(unknown)}")
        found: dict[str, dict[str, Path]] = {}
        for kind, paths in per_sample.items():
            suffix = PER_SAMPLE[kind].split("/")[-1].replace("{sample}", "")
            found[kind] = {Path(p).name[: -len(suffix)]: Path(p) for p in paths}
        return cls(tables={k: Path(v) for k, v in tables.items()}, per_sample=found,
                   **{k: (Path(v) if isinstance(v, (str, os.PathLike)) and k != "config" else v)
                      for k, v in kwargs.items()})

    @classmethod
    def from_named_inputs(cls, named: dict, **kwargs) -> "Sources":
        """From a rule's named inputs: table names of TABLES, per-sample kinds of PER_SAMPLE
        (lists), and ``samples``, ``clinical``, ``genes_bed`` (sheets and the validated BED)."""
        tables = {k: str(v) for k, v in named.items() if k in TABLES}
        per_sample = {k: [str(p) for p in v] for k, v in named.items() if k in PER_SAMPLE}
        for key, arg in (("samples", "samples_sheet"), ("clinical", "clinical_sheet"),
                         ("genes_bed", "genes_bed")):
            if named.get(key):
                kwargs.setdefault(arg, str(named[key]))
        return cls.from_files(tables, per_sample, **kwargs)


class StageData:
    """Lazily read, cached stage tables for one report run."""

    def __init__(self, sources: Sources):
        self.sources = sources
        self._cache: dict[str, pd.DataFrame | None] = {}
        self._per_sample: dict[tuple[str, str], pd.DataFrame | None] = {}
        self._clinical_warnings: list[str] = []
        self._clinical_loaded = False
        self._clinical: pd.DataFrame | None = None

    def has(self, name: str) -> bool:
        return name in self.sources.tables

    def path(self, name: str) -> Path | None:
        return self.sources.tables.get(name)

    def table(self, name: str) -> pd.DataFrame | None:
        """The whole table, or None when this run does not have it."""
        if name not in self._cache:
            path = self.sources.tables.get(name)
            self._cache[name] = read_table(path, name) if path is not None else None
        return self._cache[name]

    def for_patient(self, name: str, patient: str) -> pd.DataFrame | None:
        df = self.table(name)
        if df is None:
            return None
        return df[df["patient_id"] == patient].reset_index(drop=True)

    def sample_file(self, kind: str, sample: str) -> pd.DataFrame | None:
        key = (kind, sample)
        if key not in self._per_sample:
            path = self.sources.per_sample.get(kind, {}).get(sample)
            self._per_sample[key] = read_table(path, kind) if path is not None else None
        return self._per_sample[key]

    def has_sample_files(self, kind: str) -> bool:
        return bool(self.sources.per_sample.get(kind))

    # -- sheets --------------------------------------------------------------------------------
    def samples(self) -> pd.DataFrame:
        """sample_id, patient_id, sample_type, timepoint_days for every sample of the run: from the
        validated sample sheet when given, else from whichever per-sample table is present."""
        if "_samples" in self._cache:
            return self._cache["_samples"]
        cols = ["sample_id", "patient_id", "sample_type", "timepoint_days"]
        table = None
        if self.sources.samples_sheet is not None:
            from ..sheets import load_samples

            table = load_samples(self.sources.samples_sheet, check_files=False)[cols]
        else:
            parts = []
            for name in ("qc_summary", "tumour_fraction", "tracked_variants"):
                df = self.table(name)
                if df is not None:
                    part = df[[c for c in cols if c in df.columns]].copy()
                    if "sample_type" not in part:
                        part["sample_type"] = "plasma"
                    parts.append(part)
            if parts:
                table = (pd.concat(parts, ignore_index=True)
                         .drop_duplicates("sample_id", keep="first"))
            else:
                table = pd.DataFrame(columns=cols)
        table = table.copy()
        table["timepoint_days"] = pd.to_numeric(table["timepoint_days"], errors="coerce")
        table = table.sort_values(["patient_id", "sample_type", "timepoint_days", "sample_id"],
                                  na_position="first").reset_index(drop=True)
        self._cache["_samples"] = table
        return table

    def patients(self) -> list[str]:
        return sorted(set(self.samples()["patient_id"]))

    def clinical(self) -> pd.DataFrame | None:
        """The validated clinical sheet (None when the run has none)."""
        if not self._clinical_loaded:
            self._clinical_loaded = True
            if self.sources.clinical_sheet is not None:
                from ..sheets import load_clinical

                patients = set(self.samples()["patient_id"]) or None
                validated = load_clinical(self.sources.clinical_sheet, patients=patients)
                self._clinical = validated.table.drop(columns=["row"], errors="ignore")
                self._clinical_warnings = list(validated.warnings)
            else:
                burden = self.table("her2_burden")
                if burden is not None and "ttf_months" in burden.columns:
                    self._clinical = burden.copy()
        return self._clinical

    def clinical_warnings(self) -> list[str]:
        self.clinical()
        return self._clinical_warnings

    def clinical_row(self, patient: str) -> dict | None:
        clinical = self.clinical()
        if clinical is None:
            return None
        rows = clinical[clinical["patient_id"] == patient]
        return None if rows.empty else rows.iloc[0].to_dict()

    def gene_location(self, gene: str) -> tuple[str, int, int] | None:
        """(chrom, start, end), 0-based half-open, of ``gene`` in the genes BED, if given."""
        bed = self.sources.genes_bed
        if bed is None or not Path(bed).is_file():
            return None
        with open(bed) as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 4 and fields[3] == gene:
                    return fields[0], int(fields[1]), int(fields[2])
        return None
