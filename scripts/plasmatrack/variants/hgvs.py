"""HGVS c. and p. notation of a variant on one transcript.

``bcftools csq`` gives the consequence but not HGVS: its BCSQ amino-acid field is
``545E>545K`` / ``20R>20RG`` (no flanking residues for an insertion, no 3' rule, no ``fs*N``
count) and it has no c. position at all (none for intronic or UTR variants). So both notations are
written here from the transcript model and the reference (docs/variants.md, "Consequences").

Variants come VCF-style (1-based ``pos``, ``ref``/``alt`` sharing the anchor base for indels);
inside, positions are 0-based. HGVS rules followed: c.1 is the first CDS base, c.-N 5' UTR,
c.*N 3' UTR, c.N+d / c.N-d intronic (the midpoint of an intron counted from the upstream exon);
indels shifted to their most 3' position on the transcript strand; an insertion that repeats the
bases before it is a ``dup``; protein indels 3'-most too, a frameshift ``p.X#YfsTerN`` with N
counted from the first changed residue, a lost stop ``p.Ter#XextTerN``."""

from __future__ import annotations

from dataclasses import dataclass

from .sites import Reference
from .transcripts import Transcript

_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODONS = {a + b + c: _AMINO[16 * i + 4 * j + k]
          for i, a in enumerate(_BASES) for j, b in enumerate(_BASES)
          for k, c in enumerate(_BASES)}
THREE_LETTER = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln",
                "E": "Glu", "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys",
                "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp",
                "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa"}
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
# An indel is shifted 3' at most this far (bp): longer repeats are beyond panel reads anyway.
MAX_SHIFT = 1000


def revcomp(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def translate(seq: str) -> str:
    """Protein of ``seq`` read from its first base, whole codons only ('X' for N codons)."""
    return "".join(CODONS.get(seq[i:i + 3], "X") for i in range(0, len(seq) - 2, 3))


class Layout:
    """A transcript's exons in transcription order with their transcript offsets."""

    def __init__(self, tx: Transcript):
        self.tx = tx
        self.minus = tx.strand == "-"
        self.exons = list(reversed(tx.exons)) if self.minus else list(tx.exons)
        self.offsets, total = [], 0
        for s, e in self.exons:
            self.offsets.append(total)
            total += e - s
        self.length = total
        self.cds_length = sum(e - s for s, e in tx.cds)
        if tx.cds:
            first = tx.cds[-1][1] - 1 if self.minus else tx.cds[0][0]
            self.cds_start = self.tx_index(first)

    def tx_index(self, pos0: int) -> int | None:
        """0-based transcript position of an exonic genomic position, else None."""
        for (s, e), off in zip(self.exons, self.offsets):
            if s <= pos0 < e:
                return off + (e - 1 - pos0 if self.minus else pos0 - s)
        return None

    def _number(self, t: int) -> str:
        if not self.tx.coding:
            return str(t + 1)
        rel = t - self.cds_start
        if rel < 0:
            return str(rel)
        if rel < self.cds_length:
            return str(rel + 1)
        return f"*{rel - self.cds_length + 1}"

    def label(self, pos0: int) -> str | None:
        """HGVS position of a genomic base (``123``, ``-12``, ``*40``, ``88+5``, ``89-2``); None
        outside the transcript."""
        t = self.tx_index(pos0)
        if t is not None:
            return self._number(t)
        for i in range(len(self.exons) - 1):
            (s0, e0), (s1, e1) = self.exons[i], self.exons[i + 1]
            if self.minus and e1 <= pos0 < s0:
                up, down = s0 - pos0, pos0 - e1 + 1
            elif not self.minus and e0 <= pos0 < s1:
                up, down = pos0 - e0 + 1, s1 - pos0
            else:
                continue
            if up <= down:
                return f"{self._number(self.offsets[i + 1] - 1)}+{up}"
            return f"{self._number(self.offsets[i + 1])}-{down}"
        return None

    def cds_index(self, pos0: int) -> int | None:
        """0-based position in the coding sequence (transcription order), None outside it."""
        t = self.tx_index(pos0)
        if t is None or not self.tx.coding:
            return None
        rel = t - self.cds_start
        return rel if 0 <= rel < self.cds_length else None

    def coding_sequence(self, reference: Reference) -> str:
        """The CDS followed by the 3' UTR, on the transcript strand."""
        seq = "".join(reference.fetch(self.tx.chrom, s, e) for s, e in self.tx.exons)
        seq = revcomp(seq) if self.minus else seq
        return seq[self.cds_start:]


@dataclass(frozen=True)
class Edit:
    """A simple variant in genomic 0-based terms: ``kind`` snv / del / ins; del removes
    [start, end); ins puts ``bases`` (plus strand) between ``start - 1`` and ``start``."""

    kind: str
    start: int
    end: int
    ref: str
    bases: str


def edit_of(pos: int, ref: str, alt: str) -> Edit:
    """The edit of a VCF-style SNV, insertion or deletion (1-based ``pos``)."""
    pos0 = pos - 1
    if len(ref) == 1 and len(alt) == 1:
        return Edit("snv", pos0, pos0 + 1, ref, alt)
    if len(ref) > len(alt):
        return Edit("del", pos0 + 1, pos0 + len(ref), ref[1:], "")
    return Edit("ins", pos0 + 1, pos0 + 1, "", alt[1:])


def shift_3prime(edit: Edit, reference: Reference, chrom: str, minus: bool) -> Edit:
    """The same indel moved to its most 3' equivalent place on the transcript strand."""
    if edit.kind == "snv":
        return edit
    seq = edit.ref or edit.bases
    start, end = edit.start, edit.end
    for _ in range(MAX_SHIFT):
        if minus:
            base = reference.base(chrom, start - 1)
            if base != seq[-1]:
                break
            seq, start, end = base + seq[:-1], start - 1, end - 1
        else:
            base = reference.base(chrom, end)
            if base != seq[0]:
                break
            seq, start, end = seq[1:] + base, start + 1, end + 1
    if edit.kind == "del":
        return Edit("del", start, end, seq, "")
    return Edit("ins", start, start, "", seq)


def hgvs_c(layout: Layout, edit: Edit, reference: Reference) -> str:
    """``c.`` (coding) or ``n.`` (non-coding) notation; '' when the variant is outside the
    transcript."""
    prefix = "c." if layout.tx.coding else "n."
    strand = revcomp if layout.minus else (lambda s: s)
    if edit.kind == "snv":
        label = layout.label(edit.start)
        return f"{prefix}{label}{strand(edit.ref)}>{strand(edit.bases)}" if label else ""
    edit = shift_3prime(edit, reference, layout.tx.chrom, layout.minus)
    if edit.kind == "del":
        first, last, what = edit.start, edit.end - 1, "del"
    else:
        n = len(edit.bases)
        before = (reference.fetch(layout.tx.chrom, edit.start, edit.start + n) if layout.minus
                  else reference.fetch(layout.tx.chrom, edit.start - n, edit.start))
        if before == edit.bases:
            first, last = ((edit.start, edit.start + n - 1) if layout.minus
                           else (edit.start - n, edit.start - 1))
            what = "dup"
        else:
            first, last, what = edit.start - 1, edit.start, "ins" + strand(edit.bases)
    if layout.minus:
        first, last = last, first
    a, b = layout.label(first), layout.label(last)
    if a is None or b is None:
        return ""
    return f"{prefix}{a}{what}" if first == last else f"{prefix}{a}_{b}{what}"


def _alt_coding(layout: Layout, edit: Edit, coding: str) -> str | None:
    """The CDS + 3' UTR with the edit applied (transcript strand); None when the edit is not
    wholly inside the CDS (a splice-spanning indel: protein effect unknown, ``p.?``)."""
    minus = layout.minus
    if edit.kind == "ins":
        up, down = (edit.start, edit.start - 1) if minus else (edit.start - 1, edit.start)
        i, j = layout.cds_index(up), layout.cds_index(down)
        if i is None or j != i + 1:
            return None
        return coding[:j] + (revcomp(edit.bases) if minus else edit.bases) + coding[j:]
    first, last = (edit.end - 1, edit.start) if minus else (edit.start, edit.end - 1)
    i, j = layout.cds_index(first), layout.cds_index(last)
    if i is None or j != i + (edit.end - edit.start) - 1:
        return None
    if edit.kind == "snv":
        return coding[:i] + (revcomp(edit.bases) if minus else edit.bases) + coding[i + 1:]
    return coding[:i] + coding[j + 1:]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@dataclass(frozen=True)
class ProteinChange:
    """A protein change as residues and 1-based positions, rendered in either HGVS letter code."""

    kind: str  # sub, syn, fs, ext, del, ins, dup, delins, unknown
    pos: int = 0
    ref: str = ""  # the changed reference residues (from pos)
    alt: str = ""  # the new residues
    before: str = ""  # ins: the residue at pos (the new ones follow it)
    after: str = ""  # ins: the residue at pos + 1
    ter: int | None = None  # fs / ext: position of the new stop counted from pos (None: none)

    def render(self, three: bool = True) -> str:
        """``p.Glu545Lys`` (three-letter) or ``p.E545K``."""
        aa = (lambda s: "".join(THREE_LETTER.get(c, c) for c in s)) if three else (lambda s: s)
        ter = "Ter" if three else "*"
        n = len(self.ref)
        span = ("" if not n else f"{aa(self.ref[0])}{self.pos}" if n == 1 else
                f"{aa(self.ref[0])}{self.pos}_{aa(self.ref[-1])}{self.pos + n - 1}")
        count = "?" if self.ter is None else str(self.ter)
        text = {
            "unknown": "?",
            "syn": f"{span}=",
            "sub": f"{span}{aa(self.alt)}",
            "fs": f"{span}{aa(self.alt)}fs{ter}{count}",
            "ext": f"{span}{aa(self.alt)}ext{ter}{count}",
            "del": f"{span}del",
            "dup": f"{span}dup",
            "delins": f"{span}delins{aa(self.alt)}",
            "ins": (f"{aa(self.before)}{self.pos}_{aa(self.after)}{self.pos + 1}"
                    f"ins{aa(self.alt)}"),
        }[self.kind]
        return f"p.{text}"


def _frameshift(ref_protein: str, alt_protein: str) -> ProteinChange:
    k = _common_prefix(ref_protein, alt_protein)
    if k >= len(ref_protein) or k >= len(alt_protein):
        return ProteinChange("unknown")
    if alt_protein[k] == "*":  # a stop at the first changed residue reads as a nonsense change
        return ProteinChange("sub", k + 1, ref_protein[k], "*")
    stop = alt_protein.find("*", k)
    return ProteinChange("fs", k + 1, ref_protein[k], alt_protein[k],
                         ter=None if stop < 0 else stop - k + 1)


def _in_frame(ref_protein: str, alt_protein: str, alt_tail: str, codon: int) -> ProteinChange:
    """Substitutions and in-frame indels; the prefix is matched first, so an indel in a run of
    identical residues lands on its most 3' copy (HGVS 3' rule)."""
    k = _common_prefix(ref_protein, alt_protein)
    if k == len(ref_protein) == len(alt_protein):
        return ProteinChange("syn", codon + 1, ref_protein[codon])
    s = _common_prefix(ref_protein[k:][::-1], alt_protein[k:][::-1])
    ref_part, alt_part = ref_protein[k:len(ref_protein) - s], alt_protein[k:len(alt_protein) - s]
    if len(ref_part) == 1 and len(alt_part) == 1:
        if ref_part == "*":
            stop = alt_tail.find("*", k + 1)
            return ProteinChange("ext", k + 1, "*", alt_part,
                                 ter=None if stop < 0 else stop - k)
        return ProteinChange("sub", k + 1, ref_part, alt_part)
    if not alt_part:
        return ProteinChange("del", k + 1, ref_part)
    if not ref_part:
        n = len(alt_part)
        if k >= n and ref_protein[k - n:k] == alt_part:
            return ProteinChange("dup", k - n + 1, alt_part)
        if k == 0 or k >= len(ref_protein):
            return ProteinChange("unknown")
        return ProteinChange("ins", k, "", alt_part, ref_protein[k - 1], ref_protein[k])
    return ProteinChange("delins", k + 1, ref_part, alt_part)


def protein_change(layout: Layout, edit: Edit, coding: str,
                   ref_protein: str | None = None) -> ProteinChange | None:
    """The protein change of an edit on a coding transcript (``coding``: its CDS + 3' UTR from
    ``Layout.coding_sequence``; ``ref_protein``: its translation when already known); None
    when the edit does not touch the CDS."""
    if not layout.tx.coding:
        return None
    altered = _alt_coding(layout, edit, coding)
    if altered is None:
        touches = any(layout.cds_index(p) is not None for p in range(edit.start, edit.end))
        return ProteinChange("unknown") if touches else None
    n = layout.cds_length
    ref_protein = translate(coding[:n]) if ref_protein is None else ref_protein
    delta = len(altered) - len(coding)
    if delta % 3:
        return _frameshift(ref_protein, translate(altered))
    codon = (layout.cds_index(edit.end - 1 if layout.minus else edit.start) or 0) // 3
    return _in_frame(ref_protein, translate(altered[:n + delta]), translate(altered), codon)
