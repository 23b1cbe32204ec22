"""End-collision-aware fragment counts at variant sites (opt-in:
``variants.duplicates.collision_correction``; docs/variants.md, "Duplicate marking at depth").

Duplicate marking without UMIs (``samtools markdup``) keeps one read pair per pair of fragment
ends. At panel depth, distinct cfDNA molecules often share both ends: plasma DNA is cut at a
sharp 167 bp peak, so healthy fragments pile onto few lengths, while tumour-derived fragments
are shorter and more spread. Marking removes more distinct healthy molecules than tumour ones,
which raises observed variant allele fractions (VAFs) with depth.

The model: at one site, the molecules of length L that cover it start at one of ``n_L`` positions
(``L`` positions when the two reads cover the whole fragment, ``2 x read length`` otherwise),
uniformly. With ``M_L`` molecules the expected number of distinct end pairs is
``D_L = n_L (1 - exp(-M_L / n_L))`` (occupancy), so the molecules behind the ``D_L`` end pairs
that survive duplicate marking are ``M_L = -n_L ln(1 - D_L / n_L)``: each kept fragment of length
L stands for ``w_L = M_L / D_L >= 1`` molecules. Within one length the allele of a kept fragment
is that of a random molecule of its end pair, so weighting each allele's kept fragments by
``w_L`` estimates its distinct molecules. PCR duplicates do not change ``D_L`` (they share their
molecule's ends), so the estimate holds whatever the duplicate rate.

The streaming counter (``pileup.count_sites(..., end_collisions=True)``) gathers what the model
needs in its one pass over the reads: for every SNV site an ``EndPairs`` tally of the distinct
end pairs, and its own fragment-length histograms of the counted ref and alt fragments.

Coordinates: sites 1-based ``pos`` (VCF) in tables, 0-based inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import settings_kwargs

# Occupancy at or above this is treated as this: a length whose every start is taken says only
# that there are many molecules, not how many, so the weight is capped (-ln(0.05)/0.95 = 3.15).
MAX_OCCUPANCY = 0.95
# Reads that are not counted anywhere: unmapped, secondary, QC-fail, supplementary (0xB04).
# Duplicates stay in: they do not add end pairs, and they are how a collision is seen.
NOT_A_FRAGMENT = 0x4 | 0x100 | 0x200 | 0x800
MOLECULE_COLUMNS = ["ref_molecules", "alt_molecules"]
COLLISION_COLUMNS = MOLECULE_COLUMNS + ["collision_factor"]


@dataclass(frozen=True)
class CollisionSettings:
    """collision_correction: replace the ref/alt split of each SNV's fragment counts by the
    split of the molecules estimated behind them (module docstring); the depth stays the
    number of fragments seen."""

    collision_correction: bool = False

    @classmethod
    def from_config(cls, variants_config: dict) -> "CollisionSettings":
        section = (variants_config or {}).get("duplicates") or {}
        return cls(**settings_kwargs(cls, section, "variants.duplicates"))


def length_weights(end_pair_lengths: np.ndarray, read_length: int) -> np.ndarray:
    """Weight ``w_L`` (molecules per kept fragment) for every length L = 0 ... max, from the
    lengths (bp) of the distinct end pairs that cover a site and the read length (bp)."""
    lengths = np.asarray(end_pair_lengths, dtype=np.int64)
    size = int(lengths.max()) + 1 if lengths.size else 1
    return weights_from_distinct(np.bincount(lengths, minlength=size), read_length)


def weights_from_distinct(distinct: np.ndarray, read_length: int) -> np.ndarray:
    """``length_weights`` from the number of distinct end pairs of each length L = 0 ... max
    (``distinct[L]``) and the read length (bp)."""
    distinct = np.asarray(distinct, dtype=float)
    starts = np.minimum(np.arange(distinct.size), 2 * max(int(read_length), 1)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.minimum(np.where(starts > 0, distinct / starts, 0.0), MAX_OCCUPANCY)
        weight = np.where(occupancy > 0, -np.log1p(-occupancy) / occupancy, 1.0)
    return weight


def estimated_molecules(allele_lengths: np.ndarray, weights: np.ndarray) -> float:
    """Distinct molecules behind an allele's kept fragments (lengths in bp; a length of 0 or one
    beyond the weights, i.e. unknown, counts as one molecule)."""
    lengths = np.asarray(allele_lengths, dtype=np.int64)
    known = (lengths > 0) & (lengths < weights.size)
    return float(weights[lengths[known]].sum() + (~known).sum())


class EndPairs:
    """The distinct end pairs (fragment start, length) of the fragments covering one SNV site,
    duplicates collapsed, as the counter streams them. Per length one integer whose bit k says
    that a fragment starting k bp left of the site was seen: the tally is bounded by the lengths
    and start positions, whatever the depth."""

    __slots__ = ("pos0", "starts", "read_length")

    def __init__(self, pos0: int):
        self.pos0 = pos0
        self.starts: dict[int, int] = {}  # length (bp) -> bit mask of start offsets
        self.read_length = 0

    def add(self, start: int, length: int, read_length: int) -> None:
        """One read of a proper pair covering the site: its fragment's 0-based start (``start``
        <= the site), length (bp, |TLEN|) and the read's length (bp)."""
        self.starts[length] = self.starts.get(length, 0) | (1 << (self.pos0 - start))
        if read_length > self.read_length:
            self.read_length = read_length

    def molecules(self, ref_lengths: dict[int, int], ref_unknown: int,
                  alt_lengths: dict[int, int], alt_unknown: int) -> tuple[float, float]:
        """(ref, alt) distinct molecules behind the counted fragments, given per allele its
        fragment-length histogram (length bp -> fragments) and its fragments of unknown length
        (not a proper pair: one molecule each)."""
        size = max(self.starts, default=0) + 1
        distinct = np.zeros(size, dtype=np.int64)
        for length, mask in self.starts.items():
            distinct[length] = mask.bit_count()
        weights = weights_from_distinct(distinct, self.read_length)
        return (estimated_molecules(_expand(ref_lengths, ref_unknown), weights),
                estimated_molecules(_expand(alt_lengths, alt_unknown), weights))


def _expand(lengths: dict[int, int], unknown: int) -> np.ndarray:
    """One length per fragment (0 for unknown) from a length histogram."""
    values = np.fromiter(lengths, dtype=np.int64, count=len(lengths))
    counts = np.fromiter(lengths.values(), dtype=np.int64, count=len(lengths))
    return np.concatenate([np.repeat(values, counts), np.zeros(unknown, dtype=np.int64)])


def rebalance(counts: pd.DataFrame, molecules: pd.DataFrame) -> pd.DataFrame:
    """Counts (``pileup.COUNT_COLUMNS``) with each site's ref + alt fragments split as its
    estimated molecules are (rounded; strand counts scaled alike), plus ``COLLISION_COLUMNS``.
    ``molecules``: ref_molecules, alt_molecules per row of ``counts`` (NaN: leave the row)."""
    out = counts.copy()
    ref_m = molecules["ref_molecules"].to_numpy(dtype=float)
    alt_m = molecules["alt_molecules"].to_numpy(dtype=float)
    ref, alt = out["ref_count"].to_numpy(), out["alt_count"].to_numpy()
    total = ref + alt
    ok = np.isfinite(ref_m) & np.isfinite(alt_m) & (ref_m + alt_m > 0)
    share = np.where(ok, alt_m / np.where(ok, ref_m + alt_m, 1.0), 0.0)
    new_alt = np.where(ok, np.rint(total * share), alt).astype(np.int64)
    new_ref = np.where(ok, total - new_alt, ref).astype(np.int64)
    for label, old, new in (("ref", ref, new_ref), ("alt", alt, new_alt)):
        fwd = out[f"{label}_fwd"].to_numpy()
        scaled = np.where(old > 0, np.rint(fwd * new / np.maximum(old, 1)), np.rint(new / 2))
        out[f"{label}_fwd"] = np.minimum(scaled, new).astype(np.int64)
        out[f"{label}_rev"] = new - out[f"{label}_fwd"].to_numpy()
        out[f"{label}_count"] = new
    out["ref_molecules"] = np.round(ref_m, 2)
    out["alt_molecules"] = np.round(alt_m, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["collision_factor"] = np.round(np.where(total > 0, (ref_m + alt_m) / total,
                                                    np.nan), 4)
    return out


def correct_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts from ``pileup.count_sites(..., end_collisions=True)`` (``COUNT_COLUMNS`` plus
    ref_molecules, alt_molecules) with the ref/alt split of every SNV corrected for end
    collisions (``rebalance``)."""
    return rebalance(counts, counts[MOLECULE_COLUMNS])
