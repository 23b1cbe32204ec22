"""Panel targets: on-target fraction of unique fragments and per-base depth of unique molecules.

Depth is accumulated in "target coordinates": the panel's bases laid end to end (contig by contig in
BAM header order, targets sorted and merged). A genomic position x on a contig maps to T(x) = the
number of target bases before x on that contig plus the target bases of the earlier contigs. T is
monotone and grows only inside targets, so the target bases a span [s, e) covers are exactly the
target coordinates [T(s), T(e)): one +1/-1 pair per span in a difference array gives the exact
per-base depth, whatever the number of targets a span crosses, with no per-base Python work.

Coordinates: 0-based half-open throughout (BED convention); depth in molecules per base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..reference import merge_overlaps, read_bed


class TargetDepth:
    """Accumulates unique fragments and read spans against a set of sorted, disjoint targets."""

    def __init__(self, bed: pd.DataFrame, contigs: list[str]):
        """``bed``: chrom, start, end (0-based half-open, sorted and merged, contigs in
        ``contigs``); ``contigs``: the BAM's contig names in header order (index = tid)."""
        tid_of = {name: i for i, name in enumerate(contigs)}
        self._starts: dict[int, np.ndarray] = {}
        self._lengths: dict[int, np.ndarray] = {}
        self._offsets: dict[int, np.ndarray] = {}
        offset = 0
        ordered = bed.assign(_tid=bed["chrom"].map(tid_of)).sort_values(["_tid", "start"])
        for tid, rows in ordered.groupby("_tid", sort=True):
            starts = rows["start"].to_numpy(np.int64)
            lengths = rows["end"].to_numpy(np.int64) - starts
            self._starts[int(tid)] = starts
            self._lengths[int(tid)] = lengths
            self._offsets[int(tid)] = offset + np.concatenate(([0], np.cumsum(lengths)[:-1]))
            offset += int(lengths.sum())
        self.target_bases = offset
        self._diff = np.zeros(offset + 1, dtype=np.int64)
        self.fragments = 0
        self.on_target_fragments = 0

    def _to_target(self, tid: int, x: np.ndarray) -> np.ndarray:
        starts, lengths, offsets = self._starts[tid], self._lengths[tid], self._offsets[tid]
        i = np.searchsorted(starts, x, side="right") - 1
        before_first = i < 0
        i = np.where(before_first, 0, i)
        t = offsets[i] + np.clip(x - starts[i], 0, lengths[i])
        return np.where(before_first, offsets[0], t)

    def add(self, kind: str, tids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Add spans [starts, ends) on contigs ``tids`` (int arrays of one length): kind
        "fragment" counts unique fragments and those overlapping a target by >= 1 bp; kind
        "depth" adds one to the depth of every target base a span covers."""
        if kind == "fragment":
            self.fragments += len(tids)
        if not len(tids):
            return
        order = np.argsort(tids, kind="stable")
        tids, starts, ends = tids[order], starts[order], ends[order]
        bounds = np.flatnonzero(np.diff(tids)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(tids)]):
            tid = int(tids[lo])
            if tid not in self._starts:
                continue
            t_start = self._to_target(tid, starts[lo:hi])
            t_end = self._to_target(tid, ends[lo:hi])
            on = t_end > t_start
            if kind == "fragment":
                self.on_target_fragments += int(on.sum())
            else:
                size = len(self._diff)
                self._diff += np.bincount(t_start[on], minlength=size)
                self._diff -= np.bincount(t_end[on], minlength=size)

    def depth(self) -> np.ndarray:
        """Per-base depth (unique molecules) over all target bases, in target-coordinate order."""
        return np.cumsum(self._diff[:-1])


def load_panel(path: str | Path, contig_lengths: dict[str, int]) -> pd.DataFrame:
    """Read a panel BED against the BAM's contigs (errors name file, row and column), sorted and
    with overlapping targets merged."""
    bed = read_bed(path, contig_lengths, "panel")
    merged, _ = merge_overlaps(bed)
    return merged
