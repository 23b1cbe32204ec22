"""File helpers shared by every stage: atomic writes and tab-separated tables.

Outputs are written to a temporary file in the destination folder and renamed into place, so a
crash never leaves a half-written table that a rerun would mistake for a finished one."""

from __future__ import annotations

import contextlib
import math
import glob
import gzip
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.
    Once it has, temporary files of the same output that a killed earlier writer left behind
    (``.NAME.XXXXXXXX.tmp``; SIGKILL runs no cleanup) are removed, so a rerun after a crash
    leaves the folder as a clean run does. Snakemake never runs two jobs on one output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the output the permissions a plain open() would (reports
        # are often served to other users).
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a file for writing atomically (text by default; gzip when the name ends in .gz)."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            gz_mode = mode if "b" in mode else mode + "t"
            with gzip.open(tmp, gz_mode, compresslevel=1) as handle:
                yield handle
        else:
            with open(tmp, mode) as handle:
                yield handle


def write_tsv(df: pd.DataFrame, path: str | os.PathLike, float_format: str | None = "%.6g") -> None:
    """Write a table as TSV atomically (no index; NA as empty)."""
    with atomic_open(path) as handle:
        df.to_csv(handle, sep="\t", index=False, na_rep="", float_format=float_format)


def read_tsv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a TSV written by plasmatrack (IDs stay strings)."""
    dtype = kwargs.pop("dtype", {"sample_id": str, "patient_id": str})
    return pd.read_csv(path, sep="\t", dtype=dtype, **kwargs)


_TRUE = {"true", "1", "1.0", "yes", "y", "t"}
_FALSE = {"false", "0", "0.0", "no", "n", "f"}


def as_bool(values: pd.Series) -> pd.Series:
    """A nullable boolean column from booleans, 0/1 or text (true/false, yes/no, t/f, y/n;
    any case); missing and anything else -> NA. Tables from other tools write flags every way."""
    def one(v):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        text = str(v).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else pd.NA
    return values.map(one).astype("boolean")
