"""PyClone and PyClone-VI file formats, so users can run plasmatrack's clustering on their inputs
and compare the two tools table for table.

Input (PyClone-VI, one row per mutation and sample): mutation_id, sample_id, ref_counts,
alt_counts, normal_cn, major_cn, minor_cn, and optionally tumour_content (default 1.0, as
PyClone-VI) and error_rate (default 1e-3, as PyClone-VI). The older PyClone layout (one file per
sample, ``var_counts`` for the alternate count, no sample_id) is read too: the sample is the file
name without its extension. Unlike PyClone-VI, a mutation missing from some samples is kept (its
missing samples carry no information) rather than dropped; rows with major_cn = 0 are dropped as
in PyClone-VI (no copy can carry the mutation).

Output (PyClone-VI ``write-results-file``): mutation_id, sample_id, cluster_id,
cellular_prevalence, cellular_prevalence_std, cluster_assignment_prob; cluster ids from 0, rows
sorted by cluster_id, mutation_id, sample_id, four decimals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, where
from ..io import atomic_open
from .ccf import MutationData
from .cluster import ClusterResult

REQUIRED = ("mutation_id", "ref_counts", "alt_counts", "normal_cn", "major_cn", "minor_cn")
DEFAULT_ERROR_RATE = 1e-3
RESULT_COLUMNS = ["mutation_id", "sample_id", "cluster_id", "cellular_prevalence",
                  "cellular_prevalence_std", "cluster_assignment_prob"]


def read_pyclone_tables(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Read one or more PyClone / PyClone-VI TSVs into one validated long table."""
    frames = []
    problems: list[str] = []
    for path in paths:
        path = Path(path)
        try:
            df = pd.read_csv(path, sep="\t", dtype={"mutation_id": str, "sample_id": str},
                             comment=None)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"{path}: cannot read as a tab-separated table ({exc})") from None
        if "alt_counts" not in df.columns and "var_counts" in df.columns:
            df = df.rename(columns={"var_counts": "alt_counts"})
        if "sample_id" not in df.columns:
            df["sample_id"] = path.name.split(".")[0]
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            problems.append(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} "
                            f"(PyClone-VI input needs {', '.join(REQUIRED)}, sample_id)")
            continue
        if "tumour_content" not in df.columns:
            df["tumour_content"] = 1.0
        if "error_rate" not in df.columns:
            df["error_rate"] = DEFAULT_ERROR_RATE
        df["_file"] = str(path)
        df["_row"] = np.arange(len(df)) + 2  # line number in the file (header is line 1)
        problems.extend(_check(df, path))
        frames.append(df)
    if problems:
        raise InputError(problems)
    table = pd.concat(frames, ignore_index=True)
    dup = table.duplicated(["mutation_id", "sample_id"], keep="first")
    if dup.any():
        r = table[dup].iloc[0]
        raise InputError(f"{where(r['_file'], int(r['_row']), 'mutation_id')}: mutation "
                         f"{r['mutation_id']!r} appears twice for sample {r['sample_id']!r}")
    return table


def _check(df: pd.DataFrame, path: Path) -> list[str]:
    problems = []
    for col in ("mutation_id", "sample_id"):
        bad = df[col].isna() | (df[col].astype(str).str.strip() == "")
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(f"{where(path, int(df['_row'].iloc[i]), col)}: empty")
    for col, lo, hi, integer in (("ref_counts", 0, None, True), ("alt_counts", 0, None, True),
                                 ("normal_cn", 1, None, True), ("major_cn", 0, None, True),
                                 ("minor_cn", 0, None, True), ("tumour_content", 0, 1, False),
                                 ("error_rate", 0, 0.5, False)):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < lo)
        if hi is not None:
            bad |= values > hi
        if integer:
            bad |= (values % 1) != 0
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            kind = "a whole number" if integer else "a number"
            rng = f">= {lo}" + (f" and <= {hi}" if hi is not None else "")
            problems.append(f"{where(path, int(df['_row'].iloc[i]), col)}: {df[col].iloc[i]!r} "
                            f"is not {kind} {rng}")
        df[col] = values
    return problems


def to_mutation_data(table: pd.DataFrame) -> tuple[MutationData, list[str]]:
    """Long PyClone table -> MutationData (mutations and samples sorted by id, as PyClone-VI).
    Returns the data and notes on what was dropped."""
    notes = []
    zero = table["major_cn"] == 0
    if zero.any():
        notes.append(f"dropped {int(zero.sum())} row(s) with major_cn 0")
        table = table[~zero]
    mutations = sorted(table["mutation_id"].unique())
    samples = sorted(table["sample_id"].unique())
    if not mutations:
        raise InputError("no mutations left to cluster (every row had major_cn 0)")
    mi = {m: i for i, m in enumerate(mutations)}
    si = {s: j for j, s in enumerate(samples)}
    n, d = len(mutations), len(samples)
    rows = table["mutation_id"].map(mi).to_numpy()
    cols = table["sample_id"].map(si).to_numpy()
    # Samples' tumour content for the cells a mutation is missing from.
    sample_tc = table.groupby("sample_id")["tumour_content"].median()
    arrays = {
        "ref": np.zeros((n, d)), "alt": np.zeros((n, d)),
        "tumour_content": np.tile(sample_tc.reindex(samples).to_numpy(), (n, 1)),
        "tumour_cn": np.full((n, d), 2.0), "major_cn": np.ones((n, d)),
        "normal_cn": np.full((n, d), 2.0), "error_rate": np.full((n, d), DEFAULT_ERROR_RATE),
    }
    arrays["ref"][rows, cols] = table["ref_counts"]
    arrays["alt"][rows, cols] = table["alt_counts"]
    arrays["tumour_content"][rows, cols] = table["tumour_content"]
    arrays["tumour_cn"][rows, cols] = table["major_cn"] + table["minor_cn"]
    arrays["major_cn"][rows, cols] = table["major_cn"]
    arrays["normal_cn"][rows, cols] = table["normal_cn"]
    arrays["error_rate"][rows, cols] = table["error_rate"]
    counts = table.groupby("mutation_id").size()
    partial = int((counts < d).sum())
    if partial:
        notes.append(f"{partial} mutation(s) missing from some samples kept (missing samples carry "
                     "no information; PyClone-VI would drop them)")
    ann = pd.DataFrame({"mutation_id": mutations})
    return MutationData(mutations, samples, annotations=ann, **arrays), notes


def results_table(data: MutationData, result: ClusterResult) -> pd.DataFrame:
    """The PyClone-VI results table of a clustering."""
    rows = []
    for n, mid in enumerate(data.mutation_ids):
        k = int(result.labels[n])
        for d, sid in enumerate(data.sample_ids):
            rows.append((mid, sid, k, result.prevalence[k, d], result.prevalence_std[k, d],
                         result.probability[n]))
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return df.sort_values(["cluster_id", "mutation_id", "sample_id"]).reset_index(drop=True)


def write_results(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_open(path) as handle:
        df.to_csv(handle, sep="\t", index=False, float_format="%.4f")
