"""Variant sites: reading and validating site tables, indel normalisation and equivalence.

A site is (chrom, pos, ref, alt) in VCF convention: ``pos`` is 1-based and, for an insertion or a
deletion, ``ref`` and ``alt`` share the first (anchor) base. Inside the code positions are 0-based:
``pos0 = pos - 1`` is the reference position of ``ref[0]``.

Supported: SNVs (one base each) and simple insertions/deletions (one allele is the anchor base
alone). Multi-base substitutions and complex alleles are not tracked (a warning says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError, where

SITE_KEY = ["chrom", "pos", "ref", "alt"]
BASES = frozenset("ACGT")
SNV, INSERTION, DELETION = "snv", "insertion", "deletion"


def variant_type(ref: str, alt: str) -> str | None:
    """'snv', 'insertion', 'deletion', or None for anything else (MNV, complex, N bases)."""
    if not ref or not alt or set(ref) - BASES or set(alt) - BASES:
        return None
    if len(ref) == 1 and len(alt) == 1:
        return SNV if ref != alt else None
    if len(ref) == 1 and len(alt) > 1 and alt[0] == ref:
        return INSERTION
    if len(alt) == 1 and len(ref) > 1 and ref[0] == alt:
        return DELETION
    return None


class Reference:
    """Random access to a FASTA (indexed with .fai) with a per-contig cache of fetched windows.

    Coordinates are 0-based half-open. Bases come back upper-case."""

    def __init__(self, path: str | Path):
        import pysam

        self.path = str(path)
        try:
            self._fasta = pysam.FastaFile(self.path)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot open the reference FASTA ({exc})") from None
        self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))

    def fetch(self, chrom: str, start: int, end: int) -> str:
        length = self.lengths.get(chrom)
        if length is None:
            raise KeyError(chrom)
        start, end = max(0, start), min(length, end)
        if end <= start:
            return ""
        return self._fasta.fetch(chrom, start, end).upper()

    def base(self, chrom: str, pos0: int) -> str:
        return self.fetch(chrom, pos0, pos0 + 1)

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def left_normalize(reference: Reference, chrom: str, pos0: int, ref: str, alt: str
                   ) -> tuple[int, str, str]:
    """Left-align and trim an indel (the vt/bcftools-norm algorithm). Returns (pos0, ref, alt);
    SNVs come back unchanged."""
    if len(ref) == 1 and len(alt) == 1:
        return pos0, ref, alt
    changed = True
    while changed:
        changed = False
        if ref and alt and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if (not ref or not alt) and pos0 > 0:
            pos0 -= 1
            base = reference.base(chrom, pos0)
            ref, alt = base + ref, base + alt
            changed = True
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos0 = ref[1:], alt[1:], pos0 + 1
    return pos0, ref, alt


@dataclass(frozen=True)
class IndelClass:
    """All placements of one indel that give the same haplotype.

    ``anchors`` maps each equivalent 0-based anchor position (the base left of the event) to the
    inserted sequence (insertions) or '' (deletions); ``length`` is the indel length;
    ``span_start``/``span_end`` are the first and last 0-based reference positions a read must
    align to (without any indel between them) to show the reference allele unambiguously."""

    kind: str
    length: int
    anchors: dict[int, str]
    span_start: int
    span_end: int


def indel_class(reference: Reference | None, chrom: str, pos0: int, ref: str,
                alt: str) -> IndelClass:
    """The equivalence class of the indel (pos0 = anchor, VCF-style alleles). Without a reference
    only the given placement is known."""
    kind = variant_type(ref, alt)
    if kind not in (INSERTION, DELETION):
        raise ValueError(f"not an indel: {ref}>{alt}")
    if reference is not None:
        pos0, ref, alt = left_normalize(reference, chrom, pos0, ref, alt)
    length = abs(len(ref) - len(alt))
    anchors: dict[int, str] = {}
    if kind == DELETION:
        anchor = pos0
        anchors[anchor] = ""
        if reference is not None:
            window = _RefWindow(reference, chrom, anchor)
            # Shifting a deletion right by one is equivalent while the base entering the deleted
            # stretch equals the one leaving it.
            while window.base(anchor + 1) == window.base(anchor + 1 + length) != "":
                anchor += 1
                anchors[anchor] = ""
        last = max(anchors)
        return IndelClass(kind, length, anchors, min(anchors), last + length + 1)
    inserted = alt[1:]
    anchor = pos0
    anchors[anchor] = inserted
    if reference is not None:
        window = _RefWindow(reference, chrom, anchor)
        while window.base(anchor + 1) == inserted[0]:
            inserted = inserted[1:] + inserted[0]
            anchor += 1
            anchors[anchor] = inserted
    last = max(anchors)
    return IndelClass(kind, length, anchors, min(anchors), last + 1)


class _RefWindow:
    """Reference bases around a position, fetched in chunks as a repeat walk needs them."""

    def __init__(self, reference: Reference, chrom: str, pos0: int, chunk: int = 256):
        self.reference, self.chrom, self.chunk = reference, chrom, chunk
        self.start = max(0, pos0 - 8)
        self.seq = reference.fetch(chrom, self.start, pos0 + chunk)

    def base(self, pos0: int) -> str:
        while pos0 - self.start >= len(self.seq):
            more = self.reference.fetch(self.chrom, self.start + len(self.seq),
                                        self.start + len(self.seq) + self.chunk)
            if not more:
                return ""
            self.seq += more
        return self.seq[pos0 - self.start] if pos0 >= self.start else ""


def validate_sites(df: pd.DataFrame, source: str, reference: Reference | None = None,
                   normalize: bool = True, row_offset: int = 2) -> tuple[pd.DataFrame, list[str]]:
    """Check a site table (columns chrom, pos, ref, alt; extra columns kept) and return it
    upper-cased, indels left-normalised when a reference is given, with a ``variant_type``
    column, plus warnings for rows that were skipped (unsupported alleles).

    Raises InputError naming the file, row (line number, header = 1) and column for bad values
    (missing columns, non-integer pos, contig not in the reference, ref not matching it)."""
    missing = [c for c in SITE_KEY if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)} "
                         f"(need {', '.join(SITE_KEY)})")
    problems: list[str] = []
    warnings: list[str] = []
    keep: list[int] = []
    out = df.copy().reset_index(drop=True)
    out["chrom"] = out["chrom"].astype(str).str.strip()
    out["ref"] = out["ref"].astype(str).str.strip().str.upper()
    out["alt"] = out["alt"].astype(str).str.strip().str.upper()
    positions: list[int] = []
    types: list[str] = []
    for i, row in out.iterrows():
        line = i + row_offset
        try:
            pos = int(str(row["pos"]).strip())
            if pos < 1:
                raise ValueError
        except ValueError:
            problems.append(f"{where(source, line, 'pos')}: {row['pos']!r} is not a 1-based "
                            "position")
            positions.append(0)
            types.append("")
            continue
        kind = variant_type(row["ref"], row["alt"])
        if kind is None:
            warnings.append(f"{where(source, line)}: {row['ref']}>{row['alt']} is not an SNV or a "
                            "simple insertion/deletion; not tracked")
            positions.append(pos)
            types.append("")
            continue
        if reference is not None:
            if row["chrom"] not in reference.lengths:
                problems.append(f"{where(source, line, 'chrom')}: contig {row['chrom']!r} is not "
                                f"in the reference {reference.path}")
                positions.append(pos)
                types.append("")
                continue
            genome = reference.fetch(row["chrom"], pos - 1, pos - 1 + len(row["ref"]))
            if genome != row["ref"]:
                problems.append(f"{where(source, line, 'ref')}: {row['ref']!r} does not match the "
                                f"reference at {row['chrom']}:{pos} ({genome!r})")
                positions.append(pos)
                types.append("")
                continue
        positions.append(pos)
        types.append(kind)
        keep.append(i)
    if problems:
        raise InputError(problems)
    out["pos"] = positions
    out["variant_type"] = types
    out = out.loc[keep].copy()
    if reference is not None and normalize:
        for i in out.index[out["variant_type"] != SNV]:
            pos0, ref, alt = left_normalize(reference, out.at[i, "chrom"],
                                            int(out.at[i, "pos"]) - 1, out.at[i, "ref"],
                                            out.at[i, "alt"])
            out.at[i, "pos"], out.at[i, "ref"], out.at[i, "alt"] = pos0 + 1, ref, alt
    out["pos"] = out["pos"].astype(int)
    return out.reset_index(drop=True), warnings


def read_sites(path: str | Path, reference: Reference | None = None, normalize: bool = True
               ) -> tuple[pd.DataFrame, list[str]]:
    """Read a site table from a TSV (chrom, pos, ref, alt, ...) or a VCF (.vcf, .vcf.gz).
    Returns (sites, warnings); see ``validate_sites``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    name = path.name.lower()
    if name.endswith(".vcf") or name.endswith(".vcf.gz") or name.endswith(".bcf"):
        return validate_sites(_read_vcf_sites(path), str(path), reference, normalize, row_offset=1)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as a tab-separated table ({exc})") from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    return validate_sites(df, str(path), reference, normalize)


def _read_vcf_sites(path: Path) -> pd.DataFrame:
    """Sites of a VCF, one row per ALT allele (row numbers are record numbers)."""
    import pysam

    rows = []
    try:
        with pysam.VariantFile(str(path)) as vcf:
            for record in vcf:
                for alt in record.alts or ():
                    rows.append({"chrom": record.chrom, "pos": str(record.pos),
                                 "ref": record.ref, "alt": alt})
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as a VCF ({exc})") from None
    return pd.DataFrame(rows, columns=SITE_KEY)


def sort_sites(df: pd.DataFrame, contig_order: list[str] | None = None) -> pd.DataFrame:
    """Sort by contig (reference order when given, else name), position, ref, alt."""
    out = df.copy()
    if contig_order:
        rank = {c: i for i, c in enumerate(contig_order)}
        out["_rank"] = out["chrom"].map(rank).fillna(len(rank)).astype(int)
    else:
        out["_rank"] = 0
    out = out.sort_values(["_rank", "chrom", "pos", "ref", "alt"], kind="mergesort")
    return out.drop(columns="_rank").reset_index(drop=True)


def site_id(chrom: str, pos: int, ref: str, alt: str) -> str:
    return f"{chrom}:{pos}:{ref}>{alt}"
