"""Which samples the downstream stages leave out because they failed identity, and why: the one
contract the variants trajectories, clonal, cohort and report stages share (docs/qc.md, "What a
failed identity leaves out").

A sample is left out when ``identity_ok`` is false in ``results/qc/identity_samples.tsv`` (it
does not match its own patient, or matches another patient at least as well). Contamination
above ``max_contamination`` fails QC but keeps the draw: it is still the patient's blood, and
its reason is in the QC summary. An ``undetermined`` sample (nothing to compare it with) is kept.

The copy-number reference (panel of normals) is stricter (``reference_left_out``): a member
that failed identity or is contaminated is left out of it, since its coverage would set every
other sample's expected depth with someone else's DNA in it (another patient's tumour copy
number, when the contaminant is a plasma draw).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import as_bool, read_tsv

# The columns of IDENTITY_SAMPLES this contract reads.
EXCLUSION_COLUMNS = ("sample_id", "identity_ok", "best_match")
# Every note about a left-out sample starts with this, so tables and pages can be searched.
LEFT_OUT = "left out: failed identity"
# The identity reason of a sample whose contamination exceeds max_contamination contains this.
CONTAMINATED = "> max_contamination"
# The note of a panel-of-normals member left out of the copy-number reference starts with this.
REFERENCE_LEFT_OUT = "left out of the copy-number reference"


def left_out_reason(best_match: object) -> str:
    """The note of a sample that failed identity, naming its best match when there is one."""
    best = "" if best_match is None or pd.isna(best_match) else str(best_match).strip()
    return f"{LEFT_OUT} (best match {best})" if best else LEFT_OUT


def left_out_samples(samples: pd.DataFrame) -> dict[str, str]:
    """{sample_id: reason} of the samples whose ``identity_ok`` is false; a missing verdict
    keeps the sample (identity could not judge it)."""
    failed = samples[as_bool(samples["identity_ok"]).eq(False).fillna(False).to_numpy()]
    return {str(s): left_out_reason(b) for s, b in zip(failed["sample_id"], failed["best_match"])}


def mark_left_out(table: pd.DataFrame, left_out: dict[str, str]) -> pd.DataFrame:
    """``table`` (one row per sample: ``sample_id``, ``note``) with the column ``excluded``
    appended (true for the samples in ``left_out``) and each such sample's reason put first in
    its ``note``: the row stays where users look, and says why it was not used."""
    out = table.copy()
    reason = out["sample_id"].map(left_out)
    out["excluded"] = reason.notna()
    old = out["note"].fillna("").astype(str)
    out["note"] = [f"{r}; {n}" if r and n else (r or n) for r, n in zip(reason.fillna(""), old)]
    return out


def reference_left_out(samples: pd.DataFrame) -> dict[str, str]:
    """{sample_id: reason} of the samples unfit for the copy-number reference: those that
    failed identity, and those whose ``identity_reason`` says their contamination exceeds
    ``max_contamination``."""
    out = {s: f"{REFERENCE_LEFT_OUT} (failed identity)" for s in left_out_samples(samples)}
    reason = samples["identity_reason"].fillna("").astype(str)
    for sample, text in zip(samples["sample_id"].astype(str), reason):
        if CONTAMINATED in text and sample not in out:
            out[sample] = f"{REFERENCE_LEFT_OUT} (contamination {CONTAMINATED})"
    return out


def _read_identity(path: str | Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """An ``identity_samples.tsv`` checked for ``columns`` and true/false ``identity_ok``: a
    missing file or column is an InputError naming it; a bad value names the row."""
    if not Path(path).is_file():
        raise InputError(f"{path}: identity table not found")
    table = read_tsv(path, dtype={"sample_id": str, "best_match": str},
                     keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{path}: identity table lacks column(s) {', '.join(missing)}")
    flags = as_bool(table["identity_ok"])
    bad = flags.isna() & table["identity_ok"].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}, row {row + 2}, column 'identity_ok': "
                         f"{table['identity_ok'].iloc[row]!r} is not true/false")
    return table


def read_left_out(path: str | Path | None) -> dict[str, str]:
    """:func:`left_out_samples` of an ``identity_samples.tsv``; ``{}`` when ``path`` is None or
    empty (identity is not part of the run)."""
    if path is None or str(path) == "":
        return {}
    return left_out_samples(_read_identity(path, EXCLUSION_COLUMNS))


def read_reference_left_out(path: str | Path | None) -> dict[str, str]:
    """:func:`reference_left_out` of an ``identity_samples.tsv``; ``{}`` when ``path`` is None
    or empty (identity is not part of the run)."""
    if path is None or str(path) == "":
        return {}
    return reference_left_out(_read_identity(path, (*EXCLUSION_COLUMNS, "identity_reason")))
