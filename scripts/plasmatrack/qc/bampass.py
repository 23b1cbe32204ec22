"""The one pass over a BAM that every QC figure comes from.

Per record, only the flag is always looked at (its histogram gives every samtools-flagstat count);
template length, MAPQ and positions are read only for the records that feed the fragment-length
histogram or the on-target depth. Coordinates: 0-based half-open (pysam), lengths in bp.

Read filters (explicit, as in CNVkit and pysam idioms):
- flag counts: every record (as ``samtools flagstat``, QC-passed and QC-failed together);
- fragment lengths: read 1 of a proper pair (flags 0x1, 0x2, 0x40), primary, not duplicate, not
  QC-fail, MAPQ >= ``min_mapq``; length = |TLEN|. Counting read 1 only counts each pair exactly
  once, also when both mates start at the same position (where the sign of TLEN is arbitrary). The
  aligner's proper-pair flag leaves out pairs outside its insert-size window (bwa mem: about
  80-300 bp on cfDNA), i.e. most di-nucleosomal fragments: the histogram describes the
  mono-nucleosomal cfDNA the issue's figures (mode, median) refer to;
- unique fragments (on-target fraction): primary, mapped, not duplicate, not QC-fail records; a
  pair with both mates on one contig and 0 < |TLEN| <= ``max_fragment_length`` is one fragment
  [min(POS, PNEXT), that + |TLEN|) (taken from read 1, whether or not the aligner calls it proper);
  any other mapped read is a fragment of its own aligned span;
- depth (unique molecules per base): the same records, each adding its aligned span, except that
  the part of a read that its mate also covers is counted once (the left mate stops where the right
  mate starts; when both start at one position read 1 counts and read 2 does not). This is
  mosdepth's mate-overlap-corrected depth; no MAPQ filter (as mosdepth's default). Bases between
  two mates that neither read covers are not counted: they were never sequenced.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pysam

from ..errors import InputError

# SAM flag bits.
PAIRED = 0x1
PROPER_PAIR = 0x2
UNMAPPED = 0x4
READ1 = 0x40
SECONDARY = 0x100
QC_FAIL = 0x200
DUPLICATE = 0x400
SUPPLEMENTARY = 0x800
# Records that never count as a unique fragment.
NOT_UNIQUE = UNMAPPED | SECONDARY | QC_FAIL | DUPLICATE | SUPPLEMENTARY
PROPER_READ1 = PAIRED | PROPER_PAIR | READ1
MATE_UNMAPPED = 0x8
MATE_MAPPED_PAIR = PAIRED | MATE_UNMAPPED
# Unique fragment spans are handed over in chunks so memory stays bounded on deep BAMs.
SPAN_CHUNK = 1 << 20

SpanSink = Callable[[str, np.ndarray, np.ndarray, np.ndarray], None]


@dataclass
class PassCounts:
    """Raw tallies of one pass.

    flag_counts[f]: records with SAM flag f (0..4095). fragment_hist[L]: fragments of length L bp
    (index 0 unused) up to the histogram limit; fragments_over_limit: longer ones left out.
    unique_fragments: fragment spans handed to the span sink (0 when there is none)."""

    flag_counts: np.ndarray
    fragment_hist: np.ndarray
    fragments_over_limit: int = 0
    unique_fragments: int = 0
    contigs: list[str] = field(default_factory=list)


def open_checked_bam(path: str | Path, threads: int = 1) -> pysam.AlignmentFile:
    """Open a coordinate-sorted, indexed BAM, or raise InputError naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: BAM file not found")
    try:
        bam = pysam.AlignmentFile(str(path), "rb", threads=max(1, int(threads)))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable BAM file ({exc})") from None
    sort_order = bam.header.to_dict().get("HD", {}).get("SO", "unknown")
    if sort_order != "coordinate":
        bam.close()
        raise InputError(
            f"{path}: the BAM is not coordinate-sorted (header sort order {sort_order!r}); "
            "sort it (samtools sort) and index it (samtools index)"
        )
    if not bam.has_index():
        bam.close()
        raise InputError(
            f"{path}: the BAM has no index (.bai or .csi beside it); index it (samtools index)"
        )
    return bam


class _SpanBuffer:
    """Unique-fragment and depth spans of one pass (int64 arrays tid, start, end), handed to the
    sink in chunks so memory stays bounded; ``n_fragments`` counts the fragment spans handed."""

    def __init__(self, sink: SpanSink | None) -> None:
        self.sink = sink
        self.n_fragments = 0
        self.fragment, self.depth = self._fresh(), self._fresh()

    @staticmethod
    def _fresh() -> tuple[array, array, array]:
        return array("q"), array("q"), array("q")

    def flush(self) -> None:
        """Hand the buffered spans to the sink and start new buffers (the sink may keep the
        arrays it was given, so they are not reused)."""
        self.n_fragments += len(self.fragment[0])
        for kind, arrays in (("fragment", self.fragment), ("depth", self.depth)):
            if len(arrays[0]):
                self.sink(kind, *(np.frombuffer(a, dtype=np.int64) for a in arrays))
        self.fragment, self.depth = self._fresh(), self._fresh()


def scan_bam(bam: pysam.AlignmentFile, max_fragment_length: int, min_mapq: int,
             span_sink: SpanSink | None = None) -> PassCounts:
    """Read every record of ``bam`` once (mapped and unmapped, in file order).

    With ``span_sink``, ``span_sink(kind, tids, starts, ends)`` receives int64 arrays in chunks
    (0-based half-open): kind "fragment" for unique fragments, kind "depth" for the read spans that
    make up the depth (see the module doc). Without it no spans are collected (whole-genome QC)."""
    flag_counts = [0] * 4096
    hist = [0] * (max_fragment_length + 1)
    over = 0
    want_spans = span_sink is not None
    spans = _SpanBuffer(span_sink)
    (f_tid, f_start, f_end), (d_tid, d_start, d_end) = spans.fragment, spans.depth

    # The loop is the cost of QC (the benchmark holds it to 1.5x samtools stats): locals only,
    # one flag test for most records, attributes read only where needed.
    for read in bam.fetch(until_eof=True):
        flag = read.flag
        flag_counts[flag] += 1
        if flag & NOT_UNIQUE:
            continue
        if (flag & PROPER_READ1) == PROPER_READ1:
            tlen = read.template_length
            if tlen < 0:
                tlen = -tlen
            if tlen and read.mapping_quality >= min_mapq:
                if tlen <= max_fragment_length:
                    hist[tlen] += 1
                else:
                    over += 1
        if not want_spans:
            continue
        tid = read.reference_id
        start = read.reference_start
        end = read.reference_end
        if (flag & MATE_MAPPED_PAIR) == PAIRED and read.next_reference_id == tid:
            mate_start = read.next_reference_start
            tlen = read.template_length
            if tlen < 0:
                tlen = -tlen
            if 0 < tlen <= max_fragment_length:
                if flag & READ1:
                    f_tid.append(tid)
                    left = start if start < mate_start else mate_start
                    f_start.append(left)
                    f_end.append(left + tlen)
            else:
                f_tid.append(tid)
                f_start.append(start)
                f_end.append(end)
            if start < mate_start:
                if end > mate_start:
                    end = mate_start
            elif start == mate_start and not flag & READ1:
                end = start
        else:
            f_tid.append(tid)
            f_start.append(start)
            f_end.append(end)
        if end > start:
            d_tid.append(tid)
            d_start.append(start)
            d_end.append(end)
            if len(d_tid) >= SPAN_CHUNK:
                spans.flush()
                (f_tid, f_start, f_end), (d_tid, d_start, d_end) = spans.fragment, spans.depth
    if want_spans:
        spans.flush()
    return PassCounts(flag_counts=np.asarray(flag_counts, dtype=np.int64),
                      fragment_hist=np.asarray(hist, dtype=np.int64), fragments_over_limit=over,
                      unique_fragments=spans.n_fragments, contigs=list(bam.references))


@dataclass(frozen=True)
class FlagSummary:
    """Read counts as ``samtools flagstat`` defines them (primary = not secondary/supplementary)."""

    total_records: int
    primary_reads: int
    secondary_reads: int
    supplementary_reads: int
    mapped_reads: int  # primary mapped
    paired_reads: int  # primary, paired in sequencing
    properly_paired_reads: int  # primary, mapped, paired and flagged proper pair
    duplicate_reads: int  # primary duplicates
    qc_fail_reads: int  # primary QC-fail


def summarise_flags(flag_counts: np.ndarray) -> FlagSummary:
    """Derive flagstat counts from a histogram of SAM flags (index = flag value)."""
    flags = np.arange(len(flag_counts))
    secondary = (flags & SECONDARY) != 0
    # flagstat counts a record with both bits as secondary.
    supplementary = ((flags & SUPPLEMENTARY) != 0) & ~secondary
    primary = ~secondary & ~supplementary
    mapped = (flags & UNMAPPED) == 0
    paired = (flags & PAIRED) != 0

    def total(mask: np.ndarray) -> int:
        return int(flag_counts[mask].sum())

    return FlagSummary(
        total_records=int(flag_counts.sum()),
        primary_reads=total(primary),
        secondary_reads=total(secondary),
        supplementary_reads=total(supplementary),
        mapped_reads=total(primary & mapped),
        paired_reads=total(primary & paired),
        properly_paired_reads=total(primary & paired & mapped & ((flags & PROPER_PAIR) != 0)),
        duplicate_reads=total(primary & ((flags & DUPLICATE) != 0)),
        qc_fail_reads=total(primary & ((flags & QC_FAIL) != 0)),
    )
