"""The members of the copy-number panel of normals that sample identity keeps (issue 22;
docs/qc.md, "What a failed identity leaves out").

A pool member that failed identity is someone else's DNA, and a contaminated one carries another
person's (with a plasma contaminant, another patient's tumour copy number): as part of the
reference either would set every sample's expected depth. The rule ``cnv_reference`` builds the
reference without them and writes ``results/cnv/reference_pool.tsv`` (``POOL_COLUMNS``: every
configured member, whether it is in the reference, and why not); ``cnv_call`` reads that table
to leave them out of the leave-one-out panels and to count the reference's members. The same
samples do not calibrate detection (rule ``cnv_summary``, ``plasmatrack cnv --identity``:
:func:`calibrating_samples`). Which samples, and why, comes from the one contract,
:func:`qc.identity_exclusion.reference_left_out`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import as_bool, read_tsv, write_tsv
from ..qc.identity_exclusion import REFERENCE_LEFT_OUT, read_reference_left_out
from .call import PoolMember

log = logging.getLogger(__name__)

# Columns of results/cnv/reference_pool.tsv (tables.CNV_REFERENCE_POOL).
POOL_COLUMNS = ["sample_id", "in_reference", "note"]


def pool_table(pool_ids: list[str], identity: str | Path | None) -> pd.DataFrame:
    """``POOL_COLUMNS`` for the configured members ``pool_ids``: those that ``identity`` (an
    identity_samples.tsv, or None when identity is not run) leaves out have ``in_reference``
    false and the reason in ``note``; each is logged as a warning."""
    unfit = read_reference_left_out(identity)
    for sample in pool_ids:
        if sample in unfit:
            log.warning("%s: %s", sample, unfit[sample])
    return pd.DataFrame({"sample_id": list(pool_ids),
                         "in_reference": [s not in unfit for s in pool_ids],
                         "note": [unfit.get(s, "") for s in pool_ids]}, columns=POOL_COLUMNS)


def reference_members(table: pd.DataFrame) -> list[str]:
    """The sample IDs ``table`` (``POOL_COLUMNS``) keeps in the reference."""
    return list(table.loc[as_bool(table["in_reference"]).fillna(False).astype(bool),
                          "sample_id"])


def usable_pool(pool: tuple[PoolMember, ...], table: pd.DataFrame) -> tuple[PoolMember, ...]:
    """The members of ``pool`` that ``table`` (``POOL_COLUMNS``) keeps in the reference."""
    kept = set(reference_members(table))
    return tuple(m for m in pool if m.sample_id in kept)


def make_pool_reference(pool: tuple[PoolMember, ...], identity: str | Path | None,
                        out_table: str | Path) -> tuple[PoolMember, ...]:
    """Rule ``cnv_reference``'s first step: write the pool table of ``pool`` and return the
    members the reference is built from."""
    table = pool_table([m.sample_id for m in pool], identity)
    write_tsv(table, out_table)
    return usable_pool(pool, table)


def calibrating_samples(tumour_free: list[str], identity: str | Path | None) -> list[str]:
    """The ``tumour_free`` samples (normals, healthy plasma) fit to calibrate detection: those
    the reference would also keep. A normal that failed identity is someone else's blood (its
    LLR under the patient's null says nothing of that null), and a contaminated one may carry
    another patient's tumour DNA, raising the threshold for everyone; each left out is logged."""
    unfit = read_reference_left_out(identity)
    for sample in tumour_free:
        if sample in unfit:
            log.warning("%s: does not calibrate detection (%s)", sample,
                        unfit[sample].removeprefix(REFERENCE_LEFT_OUT).strip(" ()"))
    return [s for s in tumour_free if s not in unfit]


def read_pool_table(path: str | Path) -> pd.DataFrame:
    """``results/cnv/reference_pool.tsv``; a missing file or column is an InputError."""
    if not Path(path).is_file():
        raise InputError(f"{path}: reference pool table not found")
    table = read_tsv(path, dtype={"sample_id": str, "note": str}, keep_default_na=False)
    missing = [c for c in POOL_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: lacks column(s) {', '.join(missing)}")
    return table
