"""Checks on BAMs supplied by users: same reference (contig names and lengths), coordinate-sorted."""

from __future__ import annotations

from pathlib import Path

import pysam

from .errors import InputError
from .reference import link_or_copy


def fai_lengths(fai: str | Path) -> dict[str, int]:
    with open(fai) as handle:
        return {f[0]: int(f[1]) for f in (line.split("\t") for line in handle if line.strip())}


def check_bam(bam: str | Path, fai: str | Path) -> None:
    """Raise InputError when ``bam`` is unreadable, not coordinate-sorted, or aligned to a
    reference whose contigs differ in name or length from ``fai`` (a samtools .fai index)."""
    bam = Path(bam)
    try:
        with pysam.AlignmentFile(str(bam), "rb") as handle:
            header = handle.header.to_dict()
    except (OSError, ValueError) as exc:
        raise InputError(f"{bam}: not a readable BAM file ({exc})") from None
    sort_order = header.get("HD", {}).get("SO", "unknown")
    if sort_order != "coordinate":
        raise InputError(
            f"{bam}: header says sort order {sort_order!r}; the BAM must be coordinate-sorted "
            "(samtools sort)"
        )
    ref = fai_lengths(fai)
    bam_contigs = {sq["SN"]: sq["LN"] for sq in header.get("SQ", [])}
    problems = []
    shared = set(bam_contigs) & set(ref)
    if not shared:
        example = next(iter(bam_contigs), "?")
        problems.append(
            f"{bam}: none of its contigs (e.g. {example!r}) is in the reference (e.g. "
            f"{next(iter(ref))!r}): it was aligned to another reference"
        )
    for name in sorted(shared):
        if bam_contigs[name] != ref[name]:
            problems.append(
                f"{bam}: contig {name!r} is {bam_contigs[name]} bp in the BAM but {ref[name]} bp "
                "in the reference: it was aligned to another reference build"
            )
    if problems:
        raise InputError(problems[:10])


def import_bam(bam: str | Path, fai: str | Path, out: str | Path) -> None:
    """Check ``bam`` and link it to ``out`` (the input is never modified or indexed in place)."""
    check_bam(bam, fai)
    link_or_copy(bam, out)
