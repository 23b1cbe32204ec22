"""Grouping UMIs into molecules: UMI-tools' directional adjacency, written here.

Within one fragment position, UMIs are nodes; an edge runs from UMI ``a`` to UMI ``b`` when
they are within ``max_edits`` mismatches (Hamming) and ``count(a) >= 2 * count(b) - 1``. Starting
from the most frequent UMI (ties: first seen first, as UMI-tools' stable sort over its insertion-
ordered dict), everything reachable along edges and not taken yet forms one molecule; its
most frequent UMI names it. This reproduces UMI-tools' ``_group_directional`` read-to-group
assignment exactly (tests/real/test_umi_real.py)."""

from __future__ import annotations

import itertools
from collections import deque

# Above this many UMIs, candidate pairs come from a pigeonhole index instead of all pairs
# (the same switch UMI-tools makes).
_PAIRWISE_MAX = 25


def hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def _candidate_pairs(umis: list[str], max_edits: int):
    """Pairs of UMIs that may be within ``max_edits``: all pairs for few UMIs, else pairs
    sharing one of ``max_edits + 1`` slices (two UMIs within k mismatches agree on at least one
    of k + 1 disjoint slices)."""
    if len(umis) <= _PAIRWISE_MAX:
        yield from itertools.combinations(umis, 2)
        return
    length = len(umis[0])
    parts = max_edits + 1
    bounds = [(i * length // parts, (i + 1) * length // parts) for i in range(parts)]
    index: dict[tuple[int, str], list[str]] = {}
    for umi in umis:
        for i, (start, end) in enumerate(bounds):
            index.setdefault((i, umi[start:end]), []).append(umi)
    seen = set()
    for bucket in index.values():
        for pair in itertools.combinations(bucket, 2):
            if pair not in seen:
                seen.add(pair)
                yield pair


def directional_adjacency(counts: dict[str, int], max_edits: int) -> dict[str, list[str]]:
    """Directed edges ``a -> [b, ...]`` of the directional method. ``counts``: UMI -> reads,
    in first-seen order; every UMI of one length."""
    edges: dict[str, list[str]] = {umi: [] for umi in counts}
    for a, b in _candidate_pairs(list(counts), max_edits):
        if hamming(a, b) <= max_edits:
            if counts[a] >= 2 * counts[b] - 1:
                edges[a].append(b)
            if counts[b] >= 2 * counts[a] - 1:
                edges[b].append(a)
    return edges


def directional_groups(counts: dict[str, int], max_edits: int) -> list[list[str]]:
    """UMIs grouped into molecules, each group's most frequent UMI first. ``counts`` must be in
    first-seen order (it breaks ties between equally frequent UMIs, as UMI-tools does)."""
    if max_edits == 0 or len(counts) == 1:
        return [[umi] for umi in sorted(counts, key=counts.__getitem__, reverse=True)]
    edges = directional_adjacency(counts, max_edits)
    taken: set[str] = set()
    groups = []
    for root in sorted(counts, key=counts.__getitem__, reverse=True):
        if root in taken:
            continue
        # Nodes reachable only through a taken node were taken with it, so the search can stop
        # at taken nodes and the result equals UMI-tools' search over the whole graph.
        group, queue = [root], deque([root])
        taken.add(root)
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt not in taken:
                    taken.add(nxt)
                    group.append(nxt)
                    queue.append(nxt)
        groups.append(sorted(group, key=counts.__getitem__, reverse=True))
    return groups
