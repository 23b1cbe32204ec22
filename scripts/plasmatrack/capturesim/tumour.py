"""A patient's tumour: allele-specific copy-number landscape from one of five archetypes.

The landscape is kept on a 1-kb grid as the copy number of each parental haplotype (``hap``
row 0 = A, row 1 = B) in tumour cells, so that read depth follows total copy number and the
allele fractions of the patient's heterozygous SNPs follow the haplotype copy numbers: loss of
heterozygosity (deletion or copy-neutral) is simply a haplotype at copy number 0."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .genome import GRID, Genome

ARCHETYPES = ("arm_level", "short_segments", "focal_erbb2", "wgd", "quiet")

# (copies of one haplotype, copies of the other) relative to a diploid baseline; which haplotype
# gets the first number is drawn per event.
DIPLOID_EVENTS = [(2, 1), (1, 0), (2, 0), (3, 1), (2, 2), (3, 0)]
DIPLOID_WEIGHTS = [0.32, 0.28, 0.14, 0.1, 0.08, 0.08]
# Relative to a doubled (2, 2) baseline: losses dominate after whole-genome doubling.
WGD_EVENTS = [(2, 1), (1, 1), (2, 0), (3, 2), (3, 1), (4, 0), (3, 3), (1, 0)]
WGD_WEIGHTS = [0.28, 0.16, 0.14, 0.12, 0.1, 0.08, 0.06, 0.06]


@dataclass
class Landscape:
    """Tumour copy numbers: ``hap`` (2, n_cells) int16 on the 1-kb grid, the archetype, the
    baseline (the modal total copy number, 2 or 4) and the ERBB2 amplicon (global start, end, or
    None)."""

    hap: np.ndarray
    archetype: str
    baseline: int
    amplicon: tuple[int, int] | None

    @property
    def total(self) -> np.ndarray:
        return self.hap.sum(axis=0)

    @property
    def ploidy(self) -> float:
        return float(self.total.mean())

    def altered_fraction(self, reference: int) -> float:
        """Fraction of the genome whose total tumour copy number differs from ``reference``."""
        return float((self.total != reference).mean())

    def at(self, pos: np.ndarray) -> np.ndarray:
        """Haplotype copy numbers (2, n) at global positions."""
        return self.hap[:, np.asarray(pos) // GRID]


def _set(hap: np.ndarray, lo: int, hi: int, state: tuple[int, int], rng) -> None:
    """Write a (copies, copies) state over global [lo, hi), the haplotype order drawn at random."""
    a, b = state if rng.random() < 0.5 else state[::-1]
    hap[0, lo // GRID:hi // GRID] = a
    hap[1, lo // GRID:hi // GRID] = b


def _arm(rng, genome: Genome) -> tuple[int, int]:
    """A whole chromosome arm, or (one time in three) a whole chromosome."""
    c = int(rng.integers(len(genome.names)))
    start, cen = int(genome.offsets[c]), int(genome.centromeres[c])
    end = start + int(genome.lengths[c])
    roll = rng.random()
    return (start, end) if roll < 1 / 3 else (start, cen) if roll < 2 / 3 else (cen, end)


def _short(rng, genome: Genome, lo_kb: int = 100, hi_kb: int = 1000) -> tuple[int, int]:
    """A segment of 0.1-1 Mb at a random place inside one contig."""
    c = int(rng.integers(len(genome.names)))
    size = int(rng.integers(lo_kb, hi_kb + 1)) * GRID
    size = min(size, int(genome.lengths[c]) // 2)
    cells = int(rng.integers(0, (genome.lengths[c] - size) // GRID + 1))
    start = int(genome.offsets[c]) + cells * GRID
    return start, start + size


def _pick(rng, events, weights) -> tuple[int, int]:
    return events[int(rng.choice(len(events), p=weights))]


def draw_landscape(rng: np.random.Generator, genome: Genome, genes: pd.DataFrame,
                   archetype: str, erbb2_amplified: bool) -> Landscape:
    """Draw the tumour's allele-specific copy numbers for one archetype. ``focal_erbb2`` always
    carries the ERBB2 amplicon and nothing else (altered fraction < 2%); the others carry it when
    ``erbb2_amplified``."""
    n_cells = genome.total // GRID
    wgd = archetype == "wgd"
    base = 2 if wgd else 1
    hap = np.full((2, n_cells), base, dtype=np.int16)
    if archetype == "arm_level":
        for _ in range(int(rng.integers(3, 7))):
            _set(hap, *_arm(rng, genome), _pick(rng, DIPLOID_EVENTS, DIPLOID_WEIGHTS), rng)
    elif archetype == "short_segments":
        for _ in range(int(rng.integers(12, 26))):
            lo, hi = _short(rng, genome)
            state = _pick(rng, DIPLOID_EVENTS, DIPLOID_WEIGHTS)
            if hi - lo <= 300_000 and rng.random() < 0.15:
                state = (0, 0)  # homozygous deletions stay short
            elif rng.random() < 0.15:
                state = (int(rng.integers(4, 7)), 1)  # a low-level amplification
            _set(hap, lo, hi, state, rng)
    elif wgd:
        for _ in range(int(rng.integers(4, 9))):
            region = _arm(rng, genome) if rng.random() < 0.6 else _short(rng, genome, 300, 1500)
            _set(hap, *region, _pick(rng, WGD_EVENTS, WGD_WEIGHTS), rng)
    elif archetype == "quiet":
        if rng.random() < 0.5:  # at most one small single-copy event
            _set(hap, *_short(rng, genome, 200, 800), [(2, 1), (1, 0)][int(rng.integers(2))], rng)
    elif archetype != "focal_erbb2":
        raise ValueError(f"unknown archetype {archetype!r}")
    amplicon = None
    if archetype == "focal_erbb2" or erbb2_amplified:
        amplicon = _erbb2_amplicon(rng, genome, genes)
        total = int(rng.integers(6, 26))
        minor = int(min(hap[:, amplicon[0] // GRID].min(), 2))
        _set(hap, *amplicon, (total - minor, minor), rng)
    baseline = int(np.bincount(hap.sum(axis=0)).argmax())
    return Landscape(hap, archetype, baseline, amplicon)


def _erbb2_amplicon(rng, genome: Genome, genes: pd.DataFrame) -> tuple[int, int]:
    """An amplicon over ERBB2 of at most 250 kb and 1.5% of the genome, extended over its
    neighbours GRB7 and (half the time) PGAP3 where that fits, on the 1-kb grid."""
    g = genes.set_index("name")
    erbb2 = g.loc["ERBB2", "end"] - g.loc["ERBB2", "start"]
    cap = max(min(250_000, int(genome.total * 0.015)), erbb2 + 4_000)
    lo = g.loc["ERBB2", "start"] - int(rng.integers(2_000, 60_000))
    hi = g.loc["GRB7", "end"] + int(rng.integers(2_000, 80_000))
    if rng.random() < 0.5:
        lo = min(lo, g.loc["PGAP3", "start"] - int(rng.integers(2_000, 20_000)))
    if hi - lo > cap:  # too long: a window of the cap's length inside it that still holds ERBB2
        first = max(lo, g.loc["ERBB2", "end"] + 2_000 - cap)
        last = min(hi - cap, g.loc["ERBB2", "start"] - 2_000)
        lo = int(rng.integers(first, last + 1))
        hi = lo + cap
    return (int(lo) // GRID * GRID, -(-int(hi) // GRID) * GRID)


def segments_table(genome: Genome, land: Landscape) -> pd.DataFrame:
    """Runs of equal (hap A, hap B) copy number as segments: chrom, start, end (BED-style,
    contig coordinates), total_cn, major_cn, minor_cn."""
    rows = []
    cell_off = genome.offsets // GRID
    for c, name in enumerate(genome.names):
        a = land.hap[0, cell_off[c]:cell_off[c] + genome.lengths[c] // GRID]
        b = land.hap[1, cell_off[c]:cell_off[c] + genome.lengths[c] // GRID]
        change = np.flatnonzero((np.diff(a) != 0) | (np.diff(b) != 0)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(a)]])
        for s, e in zip(starts, ends):
            rows.append((name, int(s) * GRID, int(e) * GRID, int(a[s] + b[s]),
                         int(max(a[s], b[s])), int(min(a[s], b[s]))))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "total_cn", "major_cn", "minor_cn"])
