"""The cohort stage's entry points, one per rule of ``workflow/rules/cohort.smk``; the rule
scripts and the ``plasmatrack burden`` command call them with paths and settings.

- ``run_cohort_burden``: stage tables + sheets -> her2_burden.tsv, dynamics.tsv,
  draw_metrics.tsv;
- ``run_cohort_survival``: her2_burden.tsv + dynamics.tsv -> survival.tsv, km_curves.tsv,
  km_at_risk.tsv, cox_terms.tsv, maxstat_cuts.tsv."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import tables
from ..io import read_tsv, write_tsv
from ..sheets import load_clinical, load_samples
from ..stats.survival import SurvivalPaths, write_results
from .burden import burden_table
from .columns import ERBB2_INPUT_COLUMNS, TF_INPUT_COLUMNS, VARIANT_INPUT_COLUMNS
from ..io import as_bool
from ..qc.identity_exclusion import mark_left_out, read_left_out
from .draws import draw_metrics, read_stage_table
from .dynamics import dynamics_table
from .left_out import note_left_out, used_draws
from .burden_lod import add_burden_lod
from .mrd_response import MRD_INPUT_COLUMNS, add_draw_detection, add_mrd_dynamics
from .outcome import assign_burden_groups, cohort_survival
from .settings import CohortSettings


@dataclass
class CohortTables:
    """The cohort_burden rule's tables, and the warnings to log."""

    draws: pd.DataFrame
    burden: pd.DataFrame
    dynamics: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BurdenPaths:
    """Where :func:`run_cohort_burden` writes each table."""

    burden: str | Path
    dynamics: str | Path
    draws: str | Path

    @classmethod
    def in_folder(cls, out_dir: str | Path) -> "BurdenPaths":
        """The tables under their published file names (the table registry's) in ``out_dir``."""
        out = Path(out_dir)
        return cls(burden=out / Path(tables.HER2_BURDEN.path).name,
                   dynamics=out / Path(tables.DYNAMICS.path).name,
                   draws=out / Path(tables.DRAW_METRICS.path).name)


@dataclass
class CohortInputs:
    """The cohort_burden rule's inputs in memory: the stage tables (None when absent), the
    sample sheet and the validated clinical sheet (restricted to the sheet's patients), the
    files they came from (for error messages) and the warnings of reading them."""

    tumour_fraction: pd.DataFrame | None
    erbb2: pd.DataFrame | None
    variants: pd.DataFrame | None
    samples: pd.DataFrame | None
    clinical: pd.DataFrame | None
    sources: dict[str, object]
    warnings: list[str] = field(default_factory=list)
    mrd: pd.DataFrame | None = None  # the residual-disease calls, when given
    # sample -> why it is left out (failed identity); None when identity is not part of the run
    left_out: dict[str, str] | None = None

    @property
    def patients(self) -> list[str] | None:
        """The sample sheet's patients, sorted (None without a sheet)."""
        if self.samples is None:
            return None
        return sorted(self.samples["patient_id"].unique())


def read_cohort_inputs(tumour_fraction: str | Path | None, erbb2: str | Path | None,
                       variants: str | Path | None, clinical: str | Path | None,
                       samples: str | Path | None = None,
                       her2_gene: str = "ERBB2", mrd: str | Path | None = None,
                       identity: str | Path | None = None) -> CohortInputs:
    """Read the stage tables and sheets. Any stage table may be None/absent (a warning says
    so); the clinical sheet is validated with :func:`plasmatrack.sheets.load_clinical`.
    ``mrd``: the residual-disease calls (optional; without them no MRD columns are added).
    ``identity``: identity_samples.tsv (optional; its failed draws are left out, docs/qc.md)."""
    sample_df = load_samples(samples, check_files=False) if samples else None
    inputs = CohortInputs(
        tumour_fraction=read_stage_table(tumour_fraction, TF_INPUT_COLUMNS, "tumour fraction"),
        erbb2=read_stage_table(erbb2, ERBB2_INPUT_COLUMNS, her2_gene),
        variants=read_stage_table(variants, VARIANT_INPUT_COLUMNS, "tracked variants"),
        samples=sample_df, clinical=None,
        sources={"tumour_fraction": tumour_fraction, "erbb2": erbb2, "variants": variants})
    for path, df, what in ((tumour_fraction, inputs.tumour_fraction, "tumour fraction"),
                           (erbb2, inputs.erbb2, f"{her2_gene} copy number"),
                           (variants, inputs.variants, "tracked variants")):
        if df is None:
            inputs.warnings.append(f"{what} table {path or '(not given)'} absent: its "
                                   "components are NA")
    if mrd:
        inputs.mrd = read_stage_table(mrd, MRD_INPUT_COLUMNS, "residual disease")
    if identity:
        inputs.left_out = read_left_out(identity)
    if clinical:
        patients = inputs.patients
        validated = load_clinical(clinical, patients=set(patients) if patients else None)
        inputs.clinical = validated.table
        inputs.warnings += validated.warnings
        if patients is not None:
            inputs.clinical = inputs.clinical[inputs.clinical["patient_id"].isin(patients)]
    return inputs


def cohort_tables(inputs: CohortInputs, her2_gene: str = "ERBB2",
                  settings: CohortSettings = CohortSettings()) -> CohortTables:
    """The per-draw, per-patient (with the burden groups) and dynamics tables; a stage table
    that is absent leaves its components NA, and the notes say so. Draws in
    ``inputs.left_out`` stay in the draw table (``excluded`` true, the reason in ``note``) and
    are left out of the burden and dynamics, whose notes name them."""
    draws = draw_metrics(inputs.tumour_fraction, inputs.erbb2, inputs.variants, her2_gene,
                         inputs.samples, settings, sources=inputs.sources)
    patients = inputs.patients
    used = used_draws(draws, inputs.left_out)
    burden = burden_table(used, inputs.clinical, settings, patients)
    burden, _, message = assign_burden_groups(burden, settings)
    warnings = list(inputs.warnings) + ([message] if message else [])
    dynamics = dynamics_table(used, settings, patients)
    if inputs.mrd is not None:
        draws = add_draw_detection(draws, inputs.mrd)
        dynamics = add_mrd_dynamics(dynamics, inputs.mrd, settings)
        dynamics = add_burden_lod(dynamics, used)
    if inputs.left_out is not None:
        burden = note_left_out(burden, draws, inputs.left_out)
        dynamics = note_left_out(dynamics, draws, inputs.left_out)
        draws = mark_left_out(draws, inputs.left_out)
        warnings += [f"{s} {why}" for s, why in sorted(inputs.left_out.items())
                     if s in set(draws["sample_id"])]
    return CohortTables(draws=draws, burden=burden, dynamics=dynamics, warnings=warnings)


def build_cohort_tables(tumour_fraction: str | Path | None, erbb2: str | Path | None,
                        variants: str | Path | None, clinical: str | Path | None,
                        samples: str | Path | None = None, her2_gene: str = "ERBB2",
                        settings: CohortSettings = CohortSettings(),
                        mrd: str | Path | None = None,
                        identity: str | Path | None = None) -> CohortTables:
    """:func:`read_cohort_inputs`, then :func:`cohort_tables`."""
    inputs = read_cohort_inputs(tumour_fraction, erbb2, variants, clinical, samples, her2_gene,
                                mrd, identity)
    return cohort_tables(inputs, her2_gene, settings)


def run_cohort_burden(tumour_fraction: str | Path | None, erbb2: str | Path | None,
                      variants: str | Path | None, clinical: str | Path | None,
                      samples: str | Path | None, her2_gene: str, settings: CohortSettings,
                      paths: BurdenPaths, mrd: str | Path | None = None,
                      identity: str | Path | None = None) -> CohortTables:
    """Rule cohort_burden: :func:`build_cohort_tables`, written to ``paths``; ``identity``:
    identity_samples.tsv when identity is part of the run."""
    tables = build_cohort_tables(tumour_fraction, erbb2, variants, clinical, samples, her2_gene,
                                 settings, mrd, identity)
    write_tsv(tables.burden, paths.burden)
    write_tsv(tables.dynamics, paths.dynamics)
    write_tsv(tables.draws, paths.draws)
    return tables


def read_burden(path: str | Path) -> pd.DataFrame:
    """her2_burden.tsv back into memory with the types the survival code expects."""
    df = read_tsv(path)
    for col in ("ttf_event", "os_event"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def run_cohort_survival(burden_path: str | Path, dynamics_path: str | Path | None,
                        paths: SurvivalPaths, settings: CohortSettings = CohortSettings()
                        ) -> dict[str, str]:
    """Rule cohort_survival: the survival analyses of a cohort from her2_burden.tsv
    (+ dynamics.tsv, when it exists), written to ``paths``; returns table name -> path."""
    burden = read_burden(burden_path)
    dynamics = read_tsv(dynamics_path) if dynamics_path and Path(dynamics_path).exists() else None
    if dynamics is not None:
        for col in ("molecular_responder", "mrd_responder", "mrd_clearance"):
            if col in dynamics:
                dynamics[col] = as_bool(dynamics[col])
    return write_results(cohort_survival(burden, dynamics, settings), paths)
