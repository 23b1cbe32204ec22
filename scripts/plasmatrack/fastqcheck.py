"""Checks on paired FASTQ input before alignment: readable, complete (no truncated gzip), not
empty, same number of reads in R1 and R2, mates in the same order. bwa itself would silently
align a truncated file's first part or stop on a name mismatch far into a run."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FastqCounts:
    reads_1: int
    reads_2: int


def _open(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _names(path: Path, limit: int) -> list[bytes]:
    """The first ``limit`` read names, without /1 /2 suffixes or comments."""
    names = []
    with _open(path) as handle:
        for i, line in enumerate(handle):
            if i % 4 == 0:
                name = line[1:].split()[0] if line[1:].split() else b""
                if name.endswith((b"/1", b"/2")):
                    name = name[:-2]
                names.append(name)
                if len(names) >= limit:
                    break
    return names


def count_reads(path: str | Path) -> int:
    """Number of reads (lines / 4) in a plain or gzipped FASTQ; InputError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: FASTQ file not found")
    lines = 0
    last = b"\n"
    try:
        with _open(path) as handle:
            first = handle.read(1)
            if first and first != b"@":
                raise InputError(f"{path}: not a FASTQ file (first character {first!r}, expected '@')")
            lines += first.count(b"\n")
            last = first or last
            while chunk := handle.read(_CHUNK):
                lines += chunk.count(b"\n")
                last = chunk
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: truncated or corrupt gzip ({exc})") from None
    if not last.endswith(b"\n"):
        lines += 1
    if lines % 4:
        raise InputError(f"{path}: {lines} lines is not a multiple of 4: the FASTQ is truncated")
    return lines // 4


def check_pair(fastq_1: str | Path, fastq_2: str | Path) -> FastqCounts:
    """Validate a read pair of FASTQs; returns the read counts."""
    n1, n2 = count_reads(fastq_1), count_reads(fastq_2)
    if n1 == 0:
        raise InputError(f"{fastq_1}: the FASTQ has no reads")
    if n1 != n2:
        raise InputError(
            f"{fastq_1} has {n1} reads but {fastq_2} has {n2}: the mates do not pair up"
        )
    for i, (a, b) in enumerate(zip(_names(Path(fastq_1), 1000), _names(Path(fastq_2), 1000))):
        if a != b:
            raise InputError(
                f"{fastq_1} and {fastq_2}: read {i + 1} is named {a.decode(errors='replace')!r} in "
                f"one and {b.decode(errors='replace')!r} in the other: mates out of order"
            )
    return FastqCounts(n1, n2)
