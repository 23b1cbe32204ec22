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

Coordinates: sites 1-based ``pos`` (VCF) in tables, 0-based inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import settings_kwargs
from ..errors import InputError
from .cigar import query_position
from .pileup import ReadFilterSettings
from .sites import SNV, variant_type

# Occupancy at or above this is treated as this: a length whose every start is taken says only
# that there are many molecules, not how many, so the weight is capped (-ln(0.05)/0.95 = 3.15).
MAX_OCCUPANCY = 0.95
# Reads that are not counted anywhere: unmapped, secondary, QC-fail, supplementary (0xB04).
# Duplicates stay in: they do not add end pairs, and they are how a collision is seen.
_NOT_A_FRAGMENT = 0x4 | 0x100 | 0x200 | 0x800
COLLISION_COLUMNS = ["ref_molecules", "alt_molecules", "collision_factor"]


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
    distinct = np.bincount(lengths, minlength=size).astype(float)
    starts = np.minimum(np.arange(size), 2 * max(int(read_length), 1)).astype(float)
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


@dataclass
class SiteFragments:
    """What one site shows: the lengths of its distinct end pairs (every fragment, duplicates
    collapsed, any quality) and the lengths of the counted ref and alt fragments."""

    end_pairs: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    read_length: int

    def molecules(self) -> tuple[float, float]:
        """(ref, alt) distinct molecules estimated behind the counted fragments."""
        w = length_weights(self.end_pairs, self.read_length)
        return estimated_molecules(self.ref, w), estimated_molecules(self.alt, w)


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


def _site_fragments(bam, chrom: str, pos0: int, ref: str, alt: str,
                    filters: ReadFilterSettings) -> SiteFragments:
    """Read one SNV site: end pairs of every proper pair covering it, and the lengths of the
    fragments counted as ref or alt with the pileup's filters (mates once; mates that disagree
    are left out, as ``pileup`` does; length 0 when the pair is not proper: weight 1)."""
    end_pairs: set[tuple[int, int]] = set()
    seen: dict[str, tuple[int, int]] = {}
    read_length = 0
    for read in bam.fetch(chrom, pos0, pos0 + 1):
        flag = read.flag
        if flag & _NOT_A_FRAGMENT:
            continue
        qpos = query_position(read.cigartuples, read.reference_start, pos0)
        if qpos < 0:
            continue
        tlen = abs(read.template_length) if flag & 0x2 else 0
        if tlen:
            read_length = max(read_length, read.query_length)
            end_pairs.add((min(read.reference_start, read.next_reference_start), tlen))
        if (flag & filters.flag_filter or read.mapping_quality < filters.min_mapping_quality
                or (filters.require_proper_pair and not tlen)):
            continue
        if read.query_qualities[qpos] < filters.min_base_quality:
            continue
        base = read.query_sequence[qpos]
        allele = 0 if base == ref else 1 if base == alt else 2
        previous = seen.get(read.query_name)
        seen[read.query_name] = (allele if previous is None or previous[0] == allele else 3, tlen)
    kept = np.array(list(seen.values()), dtype=np.int64).reshape(-1, 2)
    lengths = np.array([length for _, length in end_pairs], dtype=np.int64)
    return SiteFragments(lengths, kept[kept[:, 0] == 0, 1], kept[kept[:, 0] == 1, 1],
                         read_length)


def site_molecules(bam_path: str | Path, sites: pd.DataFrame,
                   filters: ReadFilterSettings | None = None) -> pd.DataFrame:
    """ref_molecules, alt_molecules estimated at each SNV of ``sites`` (chrom, pos 1-based, ref,
    alt), one row per site in order; NaN for indels and contigs the BAM lacks."""
    import pysam

    filters = filters or ReadFilterSettings()
    rows = []
    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"{bam_path}: cannot open as an indexed BAM ({exc})") from None
    with bam:
        contigs = set(bam.references)
        for site in sites.itertuples(index=False):
            if variant_type(site.ref, site.alt) != SNV or site.chrom not in contigs:
                rows.append((math.nan, math.nan))
                continue
            frags = _site_fragments(bam, site.chrom, int(site.pos) - 1, site.ref, site.alt,
                                    filters)
            rows.append(frags.molecules())
    return pd.DataFrame(rows, columns=["ref_molecules", "alt_molecules"])


def correct_counts(bam_path: str | Path, sites: pd.DataFrame, counts: pd.DataFrame,
                   filters: ReadFilterSettings | None = None) -> pd.DataFrame:
    """``counts`` (from ``pileup.count_sites`` on the same BAM and sites) with the ref/alt split
    of every SNV corrected for end collisions (``rebalance``)."""
    return rebalance(counts, site_molecules(bam_path, sites, filters))
