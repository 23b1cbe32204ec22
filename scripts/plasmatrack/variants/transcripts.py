"""Transcript models from an Ensembl-style GFF3 (the file ``bcftools csq`` reads).

A transcript is any feature with a ``Parent`` gene whose children are ``exon`` and ``CDS``
features (``mRNA``, ``transcript``, ``lnc_RNA`` ...). IDs lose Ensembl's ``gene:`` /
``transcript:`` prefixes, as in bcftools' output. Coordinates are 0-based half-open inside
(GFF3's 1-based closed ones are converted on reading); exon and CDS lists are in genomic order.

Only what HGVS c. numbering and picking one transcript per variant need is kept: consequences
themselves come from ``bcftools csq`` (``consequence.py``)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from ..errors import InputError, where

# Tags that mark the transcript a clinical report uses (Ensembl GFF3 ``tag=``).
CANONICAL_TAGS = ("MANE_Select", "Ensembl_canonical")


@dataclass
class Transcript:
    """One transcript: ``exons`` and ``cds`` as sorted (start, end) pairs, 0-based half-open."""

    transcript_id: str
    gene: str
    chrom: str
    strand: str
    biotype: str = ""
    canonical: bool = False
    exons: list[tuple[int, int]] = field(default_factory=list)
    cds: list[tuple[int, int]] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def coding(self) -> bool:
        return bool(self.cds)


def _attributes(text: str) -> dict[str, str]:
    out = {}
    for item in text.strip().split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = unquote(value.strip())
    return out


def _strip(identifier: str) -> str:
    return identifier.split(":", 1)[1] if identifier.startswith(("gene:", "transcript:")) \
        else identifier


def _open(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _records(path: Path):
    """(line number, chrom, type, start0, end, strand, attributes) of every feature line."""
    with _open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n\r").split("\t")
            if len(cols) != 9:
                raise InputError(f"{where(path, lineno)}: expected 9 tab-separated GFF3 columns, "
                                 f"found {len(cols)}")
            try:
                start, end = int(cols[3]) - 1, int(cols[4])
            except ValueError:
                raise InputError(f"{where(path, lineno)}: start/end must be integers") from None
            yield lineno, cols[0], cols[2], start, end, cols[6], _attributes(cols[8])


def read_transcripts(path: str | Path) -> list[Transcript]:
    """Every transcript with at least one exon, sorted by chrom order of appearance and start."""
    path = Path(path)
    genes: dict[str, str] = {}
    transcripts: dict[str, Transcript] = {}
    parts: list[tuple[int, str, str, int, int]] = []
    for lineno, chrom, kind, start, end, strand, attrs in _records(path):
        ident = attrs.get("ID", "")
        if kind == "gene" or ident.startswith("gene:"):
            genes[ident] = attrs.get("Name") or attrs.get("gene_name") or _strip(ident)
        elif kind in ("exon", "CDS"):
            for parent in attrs.get("Parent", "").split(","):
                parts.append((lineno, kind, parent, start, end))
        elif "Parent" in attrs and ident:
            tags = attrs.get("tag", "").split(",")
            transcripts[ident] = Transcript(
                transcript_id=_strip(ident), gene=attrs["Parent"], chrom=chrom, strand=strand,
                biotype=attrs.get("biotype") or attrs.get("transcript_type", ""),
                canonical=any(t in tags for t in CANONICAL_TAGS)
                or attrs.get("Ensembl_canonical") == "1")
    for lineno, kind, parent, start, end in parts:
        tx = transcripts.get(parent)
        if tx is None:
            raise InputError(f"{where(path, lineno)}: {kind} with Parent={parent!r}, which is not "
                             "a transcript of the file")
        (tx.exons if kind == "exon" else tx.cds).append((start, end))
    out = []
    for tx in transcripts.values():
        tx.gene = genes.get(tx.gene, _strip(tx.gene))
        tx.exons.sort()
        tx.cds.sort()
        if tx.exons:
            out.append(tx)
    return out


class TranscriptIndex:
    """Transcripts by chromosome, for the ones overlapping a position."""

    def __init__(self, transcripts: list[Transcript]):
        self.by_chrom: dict[str, list[Transcript]] = {}
        for tx in transcripts:
            self.by_chrom.setdefault(tx.chrom, []).append(tx)

    def at(self, chrom: str, start: int, end: int) -> list[Transcript]:
        """Transcripts whose span overlaps [start, end) (0-based half-open)."""
        return [tx for tx in self.by_chrom.get(chrom, ()) if tx.start < end and start < tx.end]


def preferred(candidates: list[Transcript]) -> Transcript | None:
    """The transcript a variant is reported on: a MANE Select / Ensembl canonical one first,
    then protein-coding, then the longest coding sequence, then the smallest ID."""
    if not candidates:
        return None

    def rank(tx: Transcript):
        cds_length = sum(e - s for s, e in tx.cds)
        return (not tx.canonical, not tx.coding, -cds_length, tx.transcript_id)

    return min(candidates, key=rank)
