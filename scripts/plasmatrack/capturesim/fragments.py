"""Where a sample's sequenced fragments come from: source, haplotype, length and position.

The intensity of molecules of source s (tumour or normal cells), haplotype h and length L that
start at x is

    lambda = w_s / mean_length_s * pmf_s(L) * copies_{s,h}(x) * GC(gc of the fragment) * capture

with w_tumour = TF and w_normal = 1 - TF (genome equivalents): a genome copy cut into shorter
pieces makes more molecules, so tumour fragments outnumber tumour genome copies by about
mean_length_normal / mean_length_tumour, while every DNA copy still covers each base once.
Fragments are split into an on-target pool (overlapping a target by >= MIN_OVERLAP bp, weighted
by that target's capture efficiency) and an off-target pool (everything else); the sample's
off-target fraction sets the pools' sizes. Both pools are drawn by rejection sampling from
proposals that are uniform in position."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .genome import GRID, Genome
from .library import GCBias, LengthModel
from .tumour import Landscape

MIN_OVERLAP = 40  # bp of a target a fragment must cover to be captured by its probe


@dataclass
class SampleModel:
    """What makes one sample: tumour fraction, off-target fraction, GC bias, per-target capture
    efficiency, the fragment-length models of its normal- and tumour-derived DNA, the number of
    unique molecules and the PCR duplicate fraction."""

    tf: float
    off_target: float
    gc: GCBias
    efficiency: np.ndarray
    normal_len: LengthModel
    tumour_len: LengthModel
    n_molecules: int
    dup_rate: float


@dataclass
class Fragments:
    """Unique molecules: global start, length, tumour origin, haplotype (0/1), whether read 1 is
    on the reverse strand, on-target flag, and one uniform number per molecule that decides
    which somatic alleles it carries (shared by its PCR duplicates)."""

    start: np.ndarray
    length: np.ndarray
    tumour: np.ndarray
    hap: np.ndarray
    reverse: np.ndarray
    on_target: np.ndarray
    u: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def _overlap(start, end, t_start, t_end) -> np.ndarray:
    return np.minimum(end, t_end) - np.maximum(start, t_start)


def _max_target_overlap(start, end, t_start, t_end) -> np.ndarray:
    """Largest overlap (bp) of each fragment with any target (targets sorted, disjoint)."""
    last = np.searchsorted(t_start, end) - 1
    best = np.full(len(start), -1, dtype=np.int64)
    for k in range(4):  # a fragment of <= 800 bp spans at most 4 targets >= 200 bp apart
        i = last - k
        ok = i >= 0
        ov = _overlap(start, end, t_start[np.maximum(i, 0)], t_end[np.maximum(i, 0)])
        best = np.where(ok, np.maximum(best, ov), best)
    return best


class _Proposer:
    """Draws candidate fragments for one pool and accepts them with probability GC weight x
    (tumour: copies / max copies), i.e. rejection sampling of the intensity above; the tumour's
    proposal weight carries the max copies back in."""

    def __init__(self, genome: Genome, t_start, t_end, land: Landscape | None, model: SampleModel):
        self.g, self.ts, self.te, self.m = genome, t_start, t_end, model
        self.hap = land.hap if land is not None and model.tf > 0 else None
        self.cmax = float(self.hap.max()) if self.hap is not None else 1.0
        w_t = model.tf / model.tumour_len.mean * self.cmax if self.hap is not None else 0.0
        w_n = (1 - model.tf) / model.normal_len.mean
        self.p_tumour = w_t / (w_t + w_n)
        self.lmax = max(len(model.normal_len.pmf), len(model.tumour_len.pmf)) - 1
        # On-target proposals: a target in proportion to efficiency x window of possible starts.
        window = (t_end - t_start) + self.lmax - 2 * MIN_OVERLAP
        self.window = window
        self.p_target = model.efficiency * window / np.sum(model.efficiency * window)

    def propose(self, rng: np.random.Generator, n: int, on_target: bool) -> dict:
        m = self.m
        tumour = rng.random(n) < self.p_tumour
        length = np.where(tumour, m.tumour_len.draw(rng, n), m.normal_len.draw(rng, n))
        hap = rng.integers(0, 2, n).astype(np.int8)
        if on_target:
            t = rng.choice(len(self.ts), size=n, p=self.p_target)
            offset = (rng.random(n) * (self.window[t] + 1)).astype(np.int64)
            start = self.ts[t] - self.lmax + MIN_OVERLAP + offset
            ok = _overlap(start, start + length, self.ts[t], self.te[t]) >= MIN_OVERLAP
        else:
            start = rng.integers(0, self.g.total, n)
            ok = _max_target_overlap(start, start + length, self.ts, self.te) < MIN_OVERLAP
        end = start + length
        ok &= (start >= 0) & (end <= self.g.total) & (length > 0)
        start, end = np.clip(start, 0, self.g.total - 1), np.clip(end, 1, self.g.total)
        ok &= self.g.contig_of(start) == self.g.contig_of(end - 1)
        gc = (self.g.gc_cum[end] - self.g.gc_cum[start]) / np.maximum(length, 1)
        accept = np.where(ok, m.gc(gc), 0.0)
        if self.hap is not None:
            mid = np.clip((start + end) // 2, 0, self.g.total - 1) // GRID
            # Normal copies are 1 per haplotype (acceptance 1); tumour copies over their maximum.
            accept = accept * np.where(tumour, self.hap[hap, mid] / self.cmax, 1.0)
        keep = rng.random(n) < accept
        return {"start": start[keep], "length": length[keep], "tumour": tumour[keep],
                "hap": hap[keep]}


def _draw_pool(rng, proposer: _Proposer, n: int, on_target: bool) -> dict:
    """Exactly ``n`` accepted fragments of one pool, in batches sized by the acceptance rate."""
    parts, have, rate = [], 0, 0.2
    while have < n:
        batch = int(min(2_000_000, max(2_000, (n - have) / rate * 1.15)))
        got = proposer.propose(rng, batch, on_target)
        rate = max(len(got["start"]) / batch, 1e-3)
        parts.append(got)
        have += len(got["start"])
    out = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
    out["on_target"] = np.full(n, on_target)
    return out


def sample_fragments(rng: np.random.Generator, genome: Genome, t_start: np.ndarray,
                     t_end: np.ndarray, land: Landscape | None, model: SampleModel) -> Fragments:
    """Draw the sample's unique molecules (targets given as sorted, disjoint global intervals)."""
    proposer = _Proposer(genome, t_start, t_end, land, model)
    n_off = int(rng.binomial(model.n_molecules, model.off_target))
    pools = [_draw_pool(rng, proposer, model.n_molecules - n_off, True),
             _draw_pool(rng, proposer, n_off, False)]
    cat = {k: np.concatenate([p[k] for p in pools]) for k in pools[0]}
    order = rng.permutation(len(cat["start"]))  # FASTQs are not sorted by position
    n = len(order)
    return Fragments(
        start=cat["start"][order].astype(np.int64), length=cat["length"][order].astype(np.int64),
        tumour=cat["tumour"][order], hap=cat["hap"][order], reverse=rng.random(n) < 0.5,
        on_target=cat["on_target"][order], u=rng.random(n),
    )
