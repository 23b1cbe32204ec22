"""QC tables: per-sample row and fragment-length histogram, the cohort summary, MultiQC files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_open, read_tsv, write_tsv
from .sample import QC_COLUMNS

# Columns shown in MultiQC's General Statistics table (name -> (title, description, format)).
_MQC_COLUMNS = {
    "mapped_fraction": ("Mapped", "Primary reads mapped (fraction)", "{:,.3f}"),
    "properly_paired_fraction": ("Proper pairs", "Primary reads in proper pairs (fraction)",
                                 "{:,.3f}"),
    "duplicate_rate": ("Dup rate", "Primary reads flagged duplicate (fraction)", "{:,.3f}"),
    "fragment_mode": ("Frag mode", "Fragment-length mode (bp)", "{:,.0f}"),
    "fragment_median": ("Frag median", "Fragment-length median (bp)", "{:,.1f}"),
    "short_fraction": ("Short frac", "Fragments 100-150 bp / 100-220 bp", "{:,.3f}"),
    "periodicity_10bp": ("10bp period", "10 bp periodicity score (0-1)", "{:,.2f}"),
    "on_target_fraction": ("On target", "Unique fragments on target (fraction)", "{:,.3f}"),
    "median_on_target_depth": ("Depth", "Median on-target depth, unique fragments", "{:,.0f}"),
}


def qc_table(row: dict[str, Any]) -> pd.DataFrame:
    table = pd.DataFrame([row], columns=QC_COLUMNS)
    table["timepoint_days"] = table["timepoint_days"].astype("Int64")
    return table


def write_sample_outputs(row: dict[str, Any], hist: np.ndarray, qc_tsv: str | Path,
                         fragments_tsv: str | Path) -> None:
    """Write ``<sample>.qc.tsv`` (one row) and ``<sample>.fragment_lengths.tsv`` (length, count;
    every length from 1 bp to the histogram limit, zeros included, so samples line up)."""
    write_tsv(qc_table(row), qc_tsv)
    lengths = np.arange(1, len(hist))
    write_tsv(pd.DataFrame({"length": lengths, "count": np.asarray(hist)[1:]}), fragments_tsv)


def _read_one(path: Path, required: Iterable[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: QC table not found")
    table = read_tsv(path)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def summarise(qc_tsvs: list[str | Path], summary_tsv: str | Path,
              fragment_tsvs: list[str | Path] | None = None,
              multiqc_dir: str | Path | None = None,
              identity_tsv: str | Path | None = None,
              reference_pool: list[str] | None = None) -> pd.DataFrame:
    """Stack per-sample QC rows into ``qc_summary.tsv`` (sorted by patient, normals first, then
    timepoint) and, with ``multiqc_dir``, write MultiQC custom-content files there:
    ``plasmatrack_qc_mqc.tsv`` (General Statistics columns) and
    ``plasmatrack_fragment_lengths_mqc.json`` (fragment-length line plot, fraction per bp).
    With ``identity_tsv`` (the identity verdicts, tables.IDENTITY_SAMPLES) the identity columns
    are appended (``identity_checks.append_identity``); ``reference_pool``: the copy-number
    panel of normals, whose members identity leaves out are named so in ``qc_reason``."""
    tables = [_read_one(Path(p), ("sample_id", "patient_id", "qc_pass")) for p in qc_tsvs]
    summary = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=QC_COLUMNS)
    summary["timepoint_days"] = pd.to_numeric(summary["timepoint_days"]).astype("Int64")
    summary = summary.assign(_normal=summary["sample_type"] != "normal").sort_values(
        ["patient_id", "_normal", "timepoint_days", "sample_id"], na_position="first"
    ).drop(columns="_normal").reset_index(drop=True)
    if identity_tsv is not None:
        from .identity_checks import append_identity
        ids = {c: str for c in ("sample_id", "patient_id", "best_match", "best_match_patient")}
        summary = append_identity(summary, read_tsv(identity_tsv, dtype=ids,
                                                    keep_default_na=False, na_values=[""]),
                                  reference_pool or ())
    write_tsv(summary, summary_tsv)
    if multiqc_dir is not None:
        _write_multiqc(summary, [Path(p) for p in fragment_tsvs or []], Path(multiqc_dir))
    return summary


def _write_multiqc(summary: pd.DataFrame, fragment_tsvs: list[Path], out: Path) -> None:
    header = [
        "# id: 'plasmatrack_qc'",
        "# section_name: 'plasmatrack cfDNA QC'",
        "# description: 'Alignment and cfDNA fragment QC (definitions in docs/qc.md)'",
        "# plot_type: 'generalstats'",
        "# pconfig:",
    ]
    for name, (title, description, fmt) in _MQC_COLUMNS.items():
        header += [f"#     - {name}:", f"#         title: '{title}'",
                   f"#         description: '{description}'", f"#         format: '{fmt}'"]
    cols = ["sample_id", *_MQC_COLUMNS]
    with atomic_open(out / "plasmatrack_qc_mqc.tsv") as handle:
        handle.write("\n".join(header) + "\n")
        summary[cols].rename(columns={"sample_id": "Sample"}).to_csv(
            handle, sep="\t", index=False, na_rep="", float_format="%.6g")
    data: dict[str, dict[int, float]] = {}
    for path in fragment_tsvs:
        hist = read_tsv(path)
        total = hist["count"].sum()
        sample = path.name.removesuffix(".fragment_lengths.tsv")
        data[sample] = ({int(length): round(float(count) / total, 6)
                         for length, count in zip(hist["length"], hist["count"]) if count}
                        if total else {})
    plot = {
        "id": "plasmatrack_fragment_lengths",
        "section_name": "cfDNA fragment lengths",
        "description": "Fragment lengths of proper pairs (fraction of fragments per bp).",
        "plot_type": "linegraph",
        "pconfig": {"id": "plasmatrack_fragment_lengths_plot", "title": "cfDNA fragment lengths",
                    "xlab": "Fragment length (bp)", "ylab": "Fraction of fragments",
                    "xmax": 500},
        "data": dict(sorted(data.items())),
    }
    with atomic_open(out / "plasmatrack_fragment_lengths_mqc.json") as handle:
        json.dump(plot, handle, separators=(",", ":"), allow_nan=False)

