"""Per-sample UMI metrics (one row, ``tables.UMI_METRICS``), the family-size histogram and the
cohort table (``summarise``).

Error rates per base are measured where the consensus reads align, against the reference:
raw bases (quality >= ``min_input_base_quality``), single-strand consensus bases of families of
>= 2 reads (``single``; the fgbio / Kennedy 2014 convention), single-strand consensus bases of
families of one read (``singleton``: the read itself, so its own column) and duplex consensus
bases (not N: what the duplex record gives the variant stage). A site where at least 2
single-strand molecules (of any family size), and at least 10 % of them, differ from the
reference holds a real variant (germline or somatic), not errors, and is left out of all rates;
on normals that leaves the errors."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .. import tables
from .consensus import N, encode

METRIC_COLUMNS = [
    "sample_id", "patient_id", "reads", "families", "families_ge2", "families_ge3", "molecules",
    "duplex_molecules", "duplex_yield", "error_rate_raw", "error_rate_single",
    "error_rate_duplex", "umi_mode", "reads_grouped", "reads_unmapped",
    "reads_secondary_or_supplementary", "reads_low_mapping_quality",
    "reads_mate_unmapped_or_elsewhere", "reads_other_cigar", "family_size_mean",
    "family_size_max", "molecules_below_min_reads", "consensus_molecules",
    "molecules_on_target", "bases_raw", "errors_raw", "bases_single", "errors_single",
    "bases_duplex", "errors_duplex", "variant_sites_excluded",
    "error_rate_singleton", "bases_singleton", "errors_singleton",
]
FAMILY_SIZE_COLUMNS = ["family_size", "families"]
RAW, SINGLE, DUPLEX, SINGLETON = 0, 1, 2, 3
KINDS = ((RAW, "raw"), (SINGLE, "single"), (DUPLEX, "duplex"), (SINGLETON, "singleton"))
VARIANT_MIN_MOLECULES = 2
VARIANT_MIN_FRACTION = 0.1
BLOCK = 1 << 16


@dataclass
class _Block:
    reference: np.ndarray
    counts: np.ndarray  # (BLOCK, 8): bases and errors of each of KINDS


class ErrorTally:
    """Bases and mismatches against the reference per site, in 64-kb blocks that are closed
    (their sites judged and summed) once the stream has passed them."""

    def __init__(self, fetch: Callable[[int, int, int], str]) -> None:
        self.fetch = fetch
        self.blocks: dict[tuple[int, int], _Block] = {}
        self.totals = np.zeros(2 * len(KINDS), dtype=np.int64)
        self.excluded = 0

    def _block(self, tid: int, index: int) -> _Block:
        block = self.blocks.get((tid, index))
        if block is None:
            ref = encode(self.fetch(tid, index * BLOCK, (index + 1) * BLOCK).upper())
            ref = np.concatenate([ref, np.full(BLOCK - len(ref), N, dtype=np.uint8)])
            counts = np.zeros((BLOCK, 2 * len(KINDS)), dtype=np.int64)
            block = self.blocks[tid, index] = _Block(ref, counts)
        return block

    def add(self, tid: int, positions: np.ndarray, bases: np.ndarray, kind: int) -> None:
        """Count ``bases`` (codes; N not counted) at reference ``positions`` (0-based)."""
        keep = bases < N
        positions, bases = positions[keep], bases[keep]
        if not len(positions):
            return
        first, last = positions.min() // BLOCK, positions.max() // BLOCK
        for index in range(int(first), int(last) + 1):
            block = self._block(tid, index)
            here = (positions // BLOCK == index) if first != last else slice(None)
            offsets = positions[here] - index * BLOCK
            ref = block.reference[offsets]
            known = ref < N
            offsets = offsets[known]
            wrong = bases[here][known] != ref[known]
            np.add.at(block.counts[:, 2 * kind], offsets, 1)
            np.add.at(block.counts[:, 2 * kind + 1], offsets[wrong], 1)

    def close_before(self, tid: int, position: int) -> None:
        """Judge and sum the blocks of other contigs and those ending before ``position``."""
        for key in [k for k in self.blocks if k[0] != tid or (k[1] + 2) * BLOCK <= position]:
            counts = self.blocks.pop(key).counts
            # Molecules of every family size judge a site: singletons carry real alleles too.
            single_n = counts[:, 2 * SINGLE] + counts[:, 2 * SINGLETON]
            single_err = counts[:, 2 * SINGLE + 1] + counts[:, 2 * SINGLETON + 1]
            variant = (single_err >= VARIANT_MIN_MOLECULES) & (
                single_err >= VARIANT_MIN_FRACTION * single_n)
            self.excluded += int(variant.sum())
            self.totals += counts[~variant].sum(axis=0)

    def rates(self) -> dict[str, float]:
        self.close_before(-1, 0)
        out: dict[str, float] = {"variant_sites_excluded": self.excluded}
        for kind, name in KINDS:
            bases, errors = int(self.totals[2 * kind]), int(self.totals[2 * kind + 1])
            out[f"bases_{name}"], out[f"errors_{name}"] = bases, errors
            out[f"error_rate_{name}"] = errors / bases if bases else np.nan
        return out


@dataclass
class MoleculeTally:
    """Families and molecules as they are called."""

    family_sizes: Counter = field(default_factory=Counter)
    molecules: int = 0
    duplex_molecules: int = 0
    below_min_reads: int = 0
    consensus: int = 0
    on_target: int = 0
    other_cigar: int = 0

    def row(self) -> dict:
        sizes = self.family_sizes
        families = sum(sizes.values())
        reads = sum(size * n for size, n in sizes.items())
        return {
            "families": families,
            "families_ge2": sum(n for size, n in sizes.items() if size >= 2),
            "families_ge3": sum(n for size, n in sizes.items() if size >= 3),
            "molecules": self.molecules, "duplex_molecules": self.duplex_molecules,
            "duplex_yield": self.duplex_molecules / self.molecules if self.molecules else np.nan,
            "family_size_mean": reads / families if families else np.nan,
            "family_size_max": max(sizes, default=0),
            "molecules_below_min_reads": self.below_min_reads,
            "consensus_molecules": self.consensus, "reads_other_cigar": self.other_cigar,
        }

    def histogram(self) -> pd.DataFrame:
        rows = sorted(self.family_sizes.items())
        return pd.DataFrame(rows, columns=FAMILY_SIZE_COLUMNS).astype("int64")


def summarise(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The cohort table (``tables.UMI_SUMMARY``): every sample's metrics row, sorted by patient
    and sample, in the per-sample column order."""
    if not frames:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    missing = [c for c in tables.UMI_SUMMARY.required if c not in table.columns]
    if missing:
        raise ValueError(f"UMI metrics lack columns {missing}")
    extra = [c for c in table.columns if c not in METRIC_COLUMNS]
    table = table[[c for c in METRIC_COLUMNS if c in table.columns] + extra]
    return table.sort_values(["patient_id", "sample_id"], kind="stable").reset_index(drop=True)
