"""cfDNA QC stage: alignment and fragment metrics per sample from one pass over its BAM, a
pass/fail verdict with reasons, and the cohort summary (see docs/qc.md).

Public entry points (used by the ``qc`` rules and ``plasmatrack qc`` alike):
``run_sample_qc`` (QC one BAM and write its two tables, and its identity fingerprint when
asked) and ``summarise`` (cohort table)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .identity_pipeline import FingerprintJob

__all__ = ["QC_COLUMNS", "default_thresholds", "evaluate", "run_sample_qc", "sample_qc",
           "summarise", "write_sample_outputs"]
# The public names' modules, imported on first use (PEP 562): a job that needs one submodule,
# e.g. the per-sample identity fingerprint, does not pay for the others at start-up.
_LAZY = {"QC_COLUMNS": ".sample", "sample_qc": ".sample", "default_thresholds": ".checks",
         "evaluate": ".checks", "summarise": ".outputs", "write_sample_outputs": ".outputs"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_sample_qc(bam: str | Path, qc_tsv: str | Path, fragments_tsv: str | Path, *,
                  sample_id: str, patient_id: str = "", sample_type: str = "plasma",
                  timepoint_days: int | None = None, panel: str | Path | None = None,
                  thresholds: dict[str, Any] | None = None, threads: int = 1,
                  fingerprint: "FingerprintJob | None" = None) -> dict[str, Any]:
    """QC one BAM (see ``sample_qc``), write ``qc_tsv`` and ``fragments_tsv``; return the row.
    With ``fingerprint``, also count the sample's identity fingerprint in the same process
    (``identity_pipeline.run_fingerprint``: only the reads at the sites, through the index)."""
    from .outputs import write_sample_outputs
    from .sample import sample_qc

    row, hist = sample_qc(bam, sample_id=sample_id, patient_id=patient_id,
                          sample_type=sample_type, timepoint_days=timepoint_days, panel=panel,
                          thresholds=thresholds, threads=threads)
    write_sample_outputs(row, hist, qc_tsv, fragments_tsv)
    if fingerprint is not None:
        from .identity_pipeline import run_fingerprint

        run_fingerprint(bam, fingerprint.sites, fingerprint.out, fingerprint.settings)
    return row
