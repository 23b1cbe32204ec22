"""From a grouped molecule to its consensus records: choosing the reads of each end, calling
each strand's consensus, combining the strands, and building fgbio-tagged BAM records.

Consensus reads keep the family's alignment (docs/umi.md, "Re-align or keep the alignment"):
each end's reads are filtered to the end's most common CIGAR (the others are counted in
``MoleculeCall.discarded``), so one query index is one reference position in every read and the
consensus takes that CIGAR and position. End 0 is strand A's R1 (strand B's R2); end 1 the
other. Duplex records: R1 is end 0 when strand A is present."""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pysam

from .consensus import N, ConsensusModel, ConsensusRead, encode
from .settings import UmiSettings
from .stream import Molecule, Template

_CONSUMES_BOTH = (pysam.CMATCH, pysam.CEQUAL, pysam.CDIFF)


@dataclass
class EndReads:
    """The reads of one end of a molecule, by strand, all with one CIGAR."""

    by_strand: dict[str, list[pysam.AlignedSegment]]
    template: pysam.AlignedSegment


@dataclass
class MoleculeCall:
    """A called molecule: per end its strand consensus reads and final read."""

    molecule: Molecule
    sizes: dict[str, int]
    ends: list[EndReads]
    strands: list[str] = field(default_factory=list)
    masks: list[slice | None] = field(default_factory=list)
    raw: list[dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)
    strand_reads: list[dict[str, ConsensusRead]] = field(default_factory=list)
    final: list[ConsensusRead] = field(default_factory=list)
    discarded: int = 0

    @property
    def duplex(self) -> bool:
        return len(self.strand_reads[0]) == 2


def _end_reads(molecule: Molecule, end: int, duplex: bool) -> tuple[EndReads, int]:
    """The reads of ``end`` with its most common CIGAR, and how many had another CIGAR."""
    reads = []
    for strand, templates in molecule.strands.items():
        index = 1 - end if (duplex and strand == "B") else end
        reads.extend((strand, t.reads[index], t.reads[index].cigarstring)
                     for t in templates if index < len(t.reads))
    counts = Counter(cigar for _, _, cigar in reads)
    chosen = max(counts, key=counts.__getitem__)  # ties: the first seen (Counter keeps order)
    by_strand: dict[str, list[pysam.AlignedSegment]] = {}
    for strand, read, cigar in reads:
        if cigar == chosen:
            by_strand.setdefault(strand, []).append(read)
    template = next(read for _, read, cigar in reads if cigar == chosen)
    return EndReads(by_strand, template), len(reads) - counts[chosen]


def _stack_families(calls: list[MoleculeCall]
                    ) -> Iterator[tuple[list[tuple[int, int, str]], np.ndarray, np.ndarray]]:
    """Each call's raw families (``call.raw``) as views of one (F x n x L) array of base codes
    and one of qualities per family shape, built from one joined text per shape (numpy calls per
    batch, not per family); the masked columns (``call.masks``) are N, so they neither vote nor
    count as raw bases. Yields (members as (call index, end, strand), bases, qualities)."""
    groups: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for i, call in enumerate(calls):
        call.raw = [{} for _ in call.ends]
        for end, reads in enumerate(call.ends):
            length = reads.template.query_length
            for strand in call.strands:
                shape = (len(reads.by_strand[strand]), length)
                groups.setdefault(shape, []).append((i, end, strand))
    for (n, length), members in groups.items():
        family_reads = [r for i, end, strand in members
                        for r in calls[i].ends[end].by_strand[strand]]
        shape = (len(members), n, length)
        bases = encode("".join(r.query_sequence for r in family_reads)).reshape(shape)
        # The qualities' text (Phred + 33) is read without building an array per read.
        quals = (np.frombuffer("".join(r.query_qualities_str for r in family_reads).encode(),
                               dtype=np.uint8) - 33).reshape(shape)
        for f, (i, end, strand) in enumerate(members):
            mask = calls[i].masks[end]
            if mask is not None:
                bases[f, :, mask] = N
            calls[i].raw[end][strand] = (bases[f], quals[f])
        yield members, bases, quals


def _bases_before(read: pysam.AlignedSegment, position: int) -> int:
    """How many query bases of ``read`` lie before reference ``position`` (0-based), each
    query base placed as follows: aligned bases at their own position, soft clips continued
    past the alignment's ends, an insertion at the position of the base after it. Those
    positions never decrease along the read, so the count walks the CIGAR, no array."""
    count, ref = 0, read.reference_start
    cigar = read.cigartuples
    if cigar and cigar[0][0] == pysam.CSOFT_CLIP:
        ref -= cigar[0][1]
    for op, length in cigar:
        if op in _CONSUMES_BOTH or op == pysam.CSOFT_CLIP:
            count += min(max(position - ref, 0), length)
            ref += length
        elif op == pysam.CINS:
            count += length if ref < position else 0
        elif op in (pysam.CDEL, pysam.CREF_SKIP):
            ref += length
    return count


def past_mate(read: pysam.AlignedSegment, mate: pysam.AlignedSegment) -> slice | None:
    """Query bases of ``read`` beyond its mate's unclipped 5' end (adapter read through when
    the fragment is shorter than the read, as fgbio ClipBam's ``--clip-bases-past-mate``), as
    a slice (a query base's reference position never decreases along the read, so they are a
    suffix of a forward read and a prefix of a reverse one); None when there are none or the
    pair does not face inwards on one contig."""
    if read.reference_id != mate.reference_id or read.is_reverse == mate.is_reverse:
        return None
    forward, reverse = (mate, read) if read.is_reverse else (read, mate)
    if forward.reference_start > reverse.reference_end:
        return None
    if read.is_reverse:
        lead = mate.cigartuples[0]
        start = mate.reference_start - (lead[1] if lead[0] == pysam.CSOFT_CLIP else 0)
        count = _bases_before(read, start)
        return slice(0, count) if count else None
    tail = mate.cigartuples[-1]
    end = mate.reference_end + (tail[1] if tail[0] == pysam.CSOFT_CLIP else 0)
    first = _bases_before(read, end)
    length = read.infer_query_length()  # the CIGAR's query bases, as placed above
    return slice(first, length) if first < length else None


def prepare_molecule(molecule: Molecule, settings: UmiSettings) -> MoleculeCall | None:
    """The reads a molecule's consensus is called from (``ends``, ``strands``, ``masks``);
    None when no strand has ``min_reads`` templates (or duplex with ``require_both_strands`` and
    one strand short)."""
    sizes = {s: len(t) for s, t in molecule.strands.items()}
    keep = {s for s, n in sizes.items() if n >= settings.min_reads}
    if not keep or (settings.duplex and settings.require_both_strands and len(keep) < 2):
        return None
    kept = Molecule(molecule.id, molecule.umi, {s: molecule.strands[s] for s in sorted(keep)})
    n_ends = len(next(iter(kept.strands.values()))[0].reads)
    ends, discarded = [], 0
    for end in range(n_ends):
        reads, dropped = _end_reads(kept, end, settings.duplex)
        ends.append(reads)
        discarded += dropped
    # Every strand must reach every end with the chosen CIGAR to stand in the consensus.
    strands = sorted(set.intersection(*(set(e.by_strand) for e in ends)))
    masks = ([past_mate(ends[0].template, ends[1].template),
              past_mate(ends[1].template, ends[0].template)] if len(ends) == 2 else [None])
    return MoleculeCall(molecule, sizes, ends, strands, masks, discarded=discarded)


def call_consensus(calls: list[MoleculeCall], model: ConsensusModel) -> None:
    """Fill each call's raw families, strand consensus reads and final reads (duplex where two
    strands)."""
    for call in calls:
        call.strand_reads = [{} for _ in call.ends]
    for members, bases, quals in _stack_families(calls):
        for (i, end, strand), read in zip(members, model.call_stacked(bases, quals)):
            calls[i].strand_reads[end][strand] = read
    finals, duplex_keys = {}, []
    for i, call in enumerate(calls):
        for end, per_strand in enumerate(call.strand_reads):
            if len(per_strand) == 2:
                duplex_keys.append((i, end))
            else:
                finals[i, end] = next(iter(per_strand.values()))
    pairs = [(calls[i].strand_reads[end]["A"], calls[i].strand_reads[end]["B"])
             for i, end in duplex_keys]
    finals.update(zip(duplex_keys, model.duplex_many(pairs)))
    for i, call in enumerate(calls):
        call.final = [finals[i, end] for end in range(len(call.strand_reads))]


def _tags(call: MoleculeCall, end: int, mi: str) -> list[tuple]:
    """fgbio's consensus tags: MI, RX, per-read depth cD / min depth cM / error rate cE, per
    base depth cd and errors ce; duplex also aD/bD, aM/bM (strand depths)."""
    final = call.final[end]
    depth_max, depth_min, depth_sum, error_sum = final.totals
    tags = [("MI", mi), ("RX", call.molecule.umi), ("cD", depth_max), ("cM", depth_min),
            ("cE", error_sum / max(depth_sum, 1)),
            ("cd", array("h", final.encoded[2])), ("ce", array("h", final.encoded[3]))]
    if call.duplex:
        a, b = call.strand_reads[end]["A"].totals, call.strand_reads[end]["B"].totals
        tags += [("aD", a[0]), ("bD", b[0]), ("aM", a[1]), ("bM", b[1])]
    return tags


def _record(call: MoleculeCall, end: int, header: pysam.AlignmentHeader,
            read1_end: int) -> pysam.AlignedSegment:
    template = call.ends[end].template
    final = call.final[end]
    record = pysam.AlignedSegment(header)
    record.query_name = f"umi:{call.molecule.id}"
    record.flag = template.flag & (0x1 | 0x2 | 0x10 | 0x20)
    if template.is_paired:
        record.flag |= 0x40 if end == read1_end else 0x80
    record.reference_id = template.reference_id
    record.reference_start = template.reference_start
    record.mapping_quality = template.mapping_quality
    record.cigarstring = template.cigarstring
    record.query_sequence = final.encoded[0].decode()
    record.query_qualities = array("B", final.encoded[1])
    record.set_tags(_tags(call, end, str(call.molecule.id)))
    return record


def records(call: MoleculeCall, header: pysam.AlignmentHeader, duplex_mode: bool
            ) -> list[pysam.AlignedSegment]:
    """The consensus record(s) of a molecule, mates linked (position, strand, TLEN, MC)."""
    # End 0 is R1 except for a strand-B-only molecule in duplex mode (end 0 is B's R2).
    read1_end = 1 if duplex_mode and "A" not in call.strand_reads[0] else 0
    out = [_record(call, end, header, read1_end) for end in range(len(call.final))]
    if len(out) == 2:
        left, right = sorted(out, key=lambda r: r.reference_start)
        span = max(left.reference_end, right.reference_end) - left.reference_start
        for this, mate in ((out[0], out[1]), (out[1], out[0])):
            this.next_reference_id = mate.reference_id
            this.next_reference_start = mate.reference_start
            this.mate_is_reverse = mate.is_reverse
            this.template_length = span if this is left else -span
            this.set_tag("MC", mate.cigarstring)
    return out


def grouped_tags(molecule: Molecule, duplex: bool) -> list[tuple[Template, str]]:
    """Each template of a molecule with its ``MI`` (``id/A``, ``id/B`` in duplex mode)."""
    return [(t, f"{molecule.id}/{strand}" if duplex else str(molecule.id))
            for strand, templates in molecule.strands.items() for t in templates]
