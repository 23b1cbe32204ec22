"""Position-sorted streaming of reads into molecules with only the open families in memory.

A template (a read pair, or a single-end read) is keyed by its fragment: the contig, both
mates' unclipped 5' ends and strands. Pairs wait for their mate (the mate of a position-sorted
pair comes at ``next_reference_start``); complete templates join the bucket of their fragment.
No read of a fragment can start after ``max 5' end + longest read``, so a bucket is closed and
grouped once the stream has passed that point: memory holds the reads of the open window, not
of the sample.

In duplex mode both strands of a molecule share one bucket: the fragment's ends are ordered by
position, the strand is ``A`` when R1 is the left end and ``B`` otherwise, and a ``B`` template's
UMI halves are swapped (``alpha-beta`` on A is ``beta+alpha`` read on B), so both strands'
UMIs cluster together."""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import pysam

from .grouping import directional_groups
from .settings import UmiSettings
from .umis import CACHE_SIZE, MATE_MISMATCH, UmiProblems, split_halves, umi_from_name

_CLIP = (pysam.CSOFT_CLIP, pysam.CHARD_CLIP)
_NOT_PRIMARY = 0x100 | 0x800


@dataclass
class ReadCounts:
    """What happened to the input records (primary records only in ``reads``)."""

    reads: int = 0
    grouped: int = 0
    unmapped: int = 0
    secondary_or_supplementary: int = 0
    low_mapping_quality: int = 0
    mate_unmapped_or_elsewhere: int = 0
    bad_umi: int = 0


@dataclass(slots=True)
class Template:
    """One read pair (``reads = (r1, r2)``) or single-end read (``(r1,)``) with its UMI."""

    name: str
    umi: str
    strand: str
    reads: tuple


@dataclass
class Molecule:
    """The templates of one molecule by strand (``A``, and in duplex mode ``B``)."""

    id: int
    umi: str
    strands: dict[str, list[Template]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(t) for t in self.strands.values())


def five_prime(read: pysam.AlignedSegment) -> int:
    """The read's unclipped 5' end on the reference (0-based; reverse reads: one past the end,
    as UMI-tools' ``get_read_position``)."""
    return _end_of(read, read.flag & 0x10)[0]


def _end_of(read: pysam.AlignedSegment, reverse: int) -> tuple[int, bool]:
    """(unclipped 5' end as ``five_prime``, reverse) of a read whose flag's reverse bit is
    ``reverse`` (the flag is read once by the caller)."""
    cigar = read.cigartuples
    if reverse:
        last = cigar[-1]
        return read.reference_end + (last[1] if last[0] in _CLIP else 0), True
    first = cigar[0]
    return read.reference_start - (first[1] if first[0] in _CLIP else 0), False


def _fragment(reads: tuple, duplex: bool) -> tuple[tuple, str, int]:
    """(bucket key, strand, last 5' end) of a template."""
    r1 = reads[0]
    first = _end_of(r1, r1.flag & 0x10)
    if len(reads) == 1:
        coords: tuple = (first,)
        strand = "A"
    else:
        # Ends in position order (ties: R1 first); strand A when R1 is the left end.
        second = _end_of(reads[1], reads[1].flag & 0x10)
        strand = "A" if first <= second else "B"
        coords = (first, second) if strand == "A" else (second, first)
    key = (r1.reference_id, coords) if duplex else (r1.reference_id, coords, strand)
    return key, strand, coords[-1][0]


@functools.lru_cache(maxsize=CACHE_SIZE)
def _canonical_umi(umi: str, strand: str, duplex: bool) -> str:
    """The UMI a template is clustered by: strand B's halves swapped in duplex mode (cached,
    bounded: UMIs repeat across reads)."""
    if not duplex:
        return umi
    first, second = split_halves(umi)
    return f"{first}-{second}" if strand == "A" else f"{second}-{first}"


class _Buckets:
    """Open fragments: key -> {UMI: [Template]} (first-seen order), closed by position."""

    def __init__(self) -> None:
        self.open: dict[tuple, dict[str, list[Template]]] = {}
        self.bound: dict[tuple, int] = {}
        self.heap: list[tuple[int, int, tuple]] = []
        self.serial = 0

    def add(self, key: tuple, template: Template, last_end: int) -> None:
        by_umi = self.open.setdefault(key, {})
        by_umi.setdefault(template.umi, []).append(template)
        if last_end > self.bound.get(key, -1):
            self.bound[key] = last_end
            self.serial += 1
            heapq.heappush(self.heap, (last_end, self.serial, key))

    def pop_before(self, limit: float) -> Iterator[dict[str, list[Template]]]:
        """Close every bucket whose last 5' end is below ``limit``, in order of that end."""
        while self.heap and self.heap[0][0] < limit:
            end, _, key = heapq.heappop(self.heap)
            if self.bound.get(key) == end:
                del self.bound[key]
                yield self.open.pop(key)


class MoleculeStream:
    """Turns a position-sorted read iterator into molecules (``run``)."""

    def __init__(self, settings: UmiSettings, problems: UmiProblems) -> None:
        self.settings = settings
        self.problems = problems
        self.counts = ReadCounts()
        self.buckets = _Buckets()
        self.waiting: dict[str, pysam.AlignedSegment] = {}
        # (mate position, name) of the waiting reads: a mate not seen once the stream has
        # passed its position is not in the file, and its read must not wait to the contig end.
        self.mate_due: list[tuple[int, str]] = []
        self.next_id = 0
        self.max_length = 0

    def run(self, reads: Iterable[pysam.AlignedSegment]) -> Iterator[Molecule]:
        contig = None
        heap = self.buckets.heap
        counts = self.counts
        for read in reads:
            flag = read.flag
            if flag & _NOT_PRIMARY:
                counts.secondary_or_supplementary += 1
                continue
            counts.reads += 1
            tid, start = read.reference_id, read.reference_start
            if tid != contig:
                yield from self._close(float("inf"))
                self._drop_waiting()
                contig = tid
            else:
                if heap and heap[0][0] < start - self.max_length:
                    yield from self._close(start - self.max_length)
                if self.mate_due and self.mate_due[0][0] < start:
                    self._drop_overdue(start)
            self._take(read, flag)
        yield from self._close(float("inf"))
        self._drop_waiting()

    def _take(self, read: pysam.AlignedSegment, flag: int) -> None:
        # Flag bits read once (attribute access per property costs more than the bit tests).
        if flag & 0x4:
            self.counts.unmapped += 1
            return
        length = read.infer_read_length() or 0
        if length > self.max_length:
            self.max_length = length
        if not flag & 0x1:
            self._template((read,))
        elif flag & 0x8 or read.next_reference_id != read.reference_id:
            self.counts.mate_unmapped_or_elsewhere += 1
        else:
            name = read.query_name
            mate = self.waiting.pop(name, None)
            if mate is not None:
                self._template((mate, read) if mate.flag & 0x40 else (read, mate), name)
            else:
                self.waiting[name] = read
                heapq.heappush(self.mate_due, (read.next_reference_start, name))

    def _drop_overdue(self, position: int) -> None:
        while self.mate_due and self.mate_due[0][0] < position:
            _, name = heapq.heappop(self.mate_due)
            if self.waiting.pop(name, None) is not None:
                self.counts.mate_unmapped_or_elsewhere += 1

    def _drop_waiting(self) -> None:
        """Mates that never came (filtered, or absent from the file) end a contig unpaired."""
        self.counts.mate_unmapped_or_elsewhere += len(self.waiting)
        self.waiting.clear()
        self.mate_due.clear()

    @staticmethod
    def _tag_umi(read: pysam.AlignedSegment) -> str | None:
        return read.get_tag("RX") if read.has_tag("RX") else None

    def _template(self, reads: tuple, name: str | None = None) -> None:
        settings = self.settings
        name = name or reads[0].query_name
        # Mates share their name, so a UMI read from the name is checked once.
        if settings.source == "tag":
            umis = [self._tag_umi(r) for r in reads]
            if len(set(umis)) > 1:
                self.problems.add(MATE_MISMATCH, name, f" ({umis[0]} / {umis[1]})")
                self.counts.bad_umi += len(reads)
                return
            umi = umis[0]
        else:
            umi = umi_from_name(name)
        if not self.problems.check(umi, name, settings.duplex):
            self.counts.bad_umi += len(reads)
            return
        floor = settings.min_mapping_quality
        if reads[0].mapping_quality < floor or reads[-1].mapping_quality < floor:
            self.counts.low_mapping_quality += len(reads)
            return
        key, strand, last_end = _fragment(reads, settings.duplex)
        self.counts.grouped += len(reads)
        self.buckets.add(key, Template(name, _canonical_umi(umi, strand, settings.duplex),
                                       strand, reads), last_end)

    def _close(self, limit: float) -> Iterator[Molecule]:
        for by_umi in self.buckets.pop_before(limit):
            counts = {umi: len(templates) for umi, templates in by_umi.items()}
            for group in directional_groups(counts, self.settings.max_edits):
                molecule = Molecule(self.next_id, group[0])
                self.next_id += 1
                for umi in group:
                    for template in by_umi[umi]:
                        molecule.strands.setdefault(template.strand, []).append(template)
                yield molecule
