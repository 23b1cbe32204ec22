"""CIGAR walks shared by fragment counting (``pileup``) and candidate discovery (``discover``).

``cigar`` is pysam's ``cigartuples`` (operation code, length); positions are 0-based reference
coordinates and offsets are 0-based into the read's query sequence (soft clips included).
"""

from __future__ import annotations

INSERTION_EVENT, DELETION_EVENT = 1, 2


def indel_events(cigar: list[tuple[int, int]], ref_start: int
                 ) -> list[tuple[int, int, int, int]]:
    """Indel events of a read aligned from ``ref_start``: tuples (kind, anchor pos0, length,
    query offset of the first inserted base or -1 for deletions), with kind ``INSERTION_EVENT``
    (1) or ``DELETION_EVENT`` (2) and the anchor the reference base before the event.
    Insertions before the first aligned base have no anchor and are left out."""
    events = []
    ref = ref_start
    query = 0
    seen_aligned = False
    for op, length in cigar:
        if op in (0, 7, 8):
            ref += length
            query += length
            seen_aligned = True
        elif op == 1:
            if seen_aligned:
                events.append((INSERTION_EVENT, ref - 1, length, query))
            query += length
        elif op == 2:
            events.append((DELETION_EVENT, ref - 1, length, -1))
            ref += length
        elif op == 3:
            ref += length
        elif op == 4:
            query += length
    return events


def query_position(cigar: list[tuple[int, int]], ref_start: int, pos0: int) -> int:
    """Query offset aligned to reference position ``pos0`` in a read aligned from
    ``ref_start``; -1 when ``pos0`` is deleted or skipped in the read or outside its alignment."""
    ref = ref_start
    query = 0
    for op, length in cigar:
        if op in (0, 7, 8):
            if ref <= pos0 < ref + length:
                return query + pos0 - ref
            ref += length
            query += length
        elif op in (1, 4):
            query += length
        elif op in (2, 3):
            if ref <= pos0 < ref + length:
                return -1
            ref += length
    return -1
