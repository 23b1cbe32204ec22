"""The consensus of a stream of molecules: calls each molecule, builds its records and keeps
the metrics (families, molecules, error rates at reference positions, on-target molecules)."""

from __future__ import annotations

import numpy as np
import pysam

from .consensus import ConsensusModel
from .metrics import DUPLEX, RAW, SINGLE, SINGLETON, ErrorTally, MoleculeTally
from .molecules import MoleculeCall, call_consensus, prepare_molecule, records
from .settings import UmiSettings
from .stream import Molecule

_ALIGNED = (pysam.CMATCH, pysam.CEQUAL, pysam.CDIFF)
_QUERY = (pysam.CMATCH, pysam.CINS, pysam.CSOFT_CLIP, pysam.CEQUAL, pysam.CDIFF)
_REFERENCE = (pysam.CMATCH, pysam.CDEL, pysam.CREF_SKIP, pysam.CEQUAL, pysam.CDIFF)
# Molecules longer than this are not used for error rates: the error tally closes its blocks
# behind the stream and a read pair spanning more could reach a closed block.
MAX_TALLY_SPAN = 10_000


def aligned_positions(read: pysam.AlignedSegment) -> tuple[np.ndarray, np.ndarray]:
    """(query indices, 0-based reference positions) of the read's aligned (M/=/X) bases."""
    query, ref, q_parts, r_parts = 0, read.reference_start, [], []
    for op, length in read.cigartuples:
        if op in _ALIGNED:
            q_parts.append(np.arange(query, query + length))
            r_parts.append(np.arange(ref, ref + length))
        query += length if op in _QUERY else 0
        ref += length if op in _REFERENCE else 0
    if not q_parts:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(q_parts), np.concatenate(r_parts)


class Targets:
    """Merged target intervals per contig id (0-based half-open)."""

    def __init__(self, intervals: dict[int, list[tuple[int, int]]]) -> None:
        self.starts, self.ends = {}, {}
        for tid, spans in intervals.items():
            merged: list[list[int]] = []
            for start, end in sorted(spans):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self.starts[tid] = np.array([s for s, _ in merged])
            self.ends[tid] = np.array([e for _, e in merged])

    def overlaps(self, tid: int, start: int, end: int) -> bool:
        starts = self.starts.get(tid)
        if starts is None:
            return False
        i = int(np.searchsorted(starts, end))  # targets starting before ``end``
        return i > 0 and self.ends[tid][i - 1] > start


class ConsensusEngine:
    """Molecule in, consensus records out; metrics accumulate on the way."""

    def __init__(self, settings: UmiSettings, header: pysam.AlignmentHeader,
                 errors: ErrorTally | None = None, targets: Targets | None = None) -> None:
        self.settings = settings
        self.header = header
        self.model = ConsensusModel(settings)
        self.tally = MoleculeTally()
        self.errors = errors
        self.targets = targets

    def process(self, molecules: list[Molecule]) -> list[pysam.AlignedSegment]:
        """Consensus records of a batch of molecules (in stream order)."""
        calls = []
        for molecule in molecules:
            self.tally.molecules += 1
            for templates in molecule.strands.values():
                self.tally.family_sizes[len(templates)] += 1
            call = prepare_molecule(molecule, self.settings)
            if call is None:
                self.tally.below_min_reads += 1
            else:
                calls.append(call)
        call_consensus(calls, self.model)
        out = []
        for call in calls:
            out.extend(self._finish(call))
        return out

    def _finish(self, call: MoleculeCall) -> list[pysam.AlignedSegment]:
        self.tally.consensus += 1
        self.tally.other_cigar += call.discarded
        self.tally.duplex_molecules += call.duplex
        out = records(call, self.header, self.settings.duplex)
        tid = out[0].reference_id
        start = min(r.reference_start for r in out)
        end = max(r.reference_end for r in out)
        if self.targets is not None and self.targets.overlaps(tid, start, end):
            self.tally.on_target += 1
        if self.errors is not None and end - start <= MAX_TALLY_SPAN:
            self.errors.close_before(tid, start)
            self._count_errors(call, tid)
        return out

    def _count_errors(self, call: MoleculeCall, tid: int) -> None:
        for end, reads in enumerate(call.ends):
            query, ref = aligned_positions(reads.template)
            for bases, quals in call.raw[end].values():
                valid = quals[:, query] >= self.settings.min_input_base_quality
                raw = np.where(valid, bases[:, query], 4)
                self.errors.add(tid, np.tile(ref, len(raw)), raw.ravel(), RAW)
            for strand, strand_read in call.strand_reads[end].items():
                # A family of one read is that read: its own rate, not the consensus rate.
                kind = SINGLE if len(call.raw[end][strand][0]) >= 2 else SINGLETON
                self.errors.add(tid, ref, strand_read.bases[query], kind)
            if call.duplex:
                self.errors.add(tid, ref, call.final[end].bases[query], DUPLEX)
