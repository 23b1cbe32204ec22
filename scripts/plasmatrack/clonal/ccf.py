"""Cancer cell fraction (CCF) of somatic variants from allele counts, tumour fraction, copy number.

The mixing model (the one the simulator and PyClone use, with every tumour cell carrying the
local tumour copy number C):

    DNA copies at the locus   = (1 - t) * N + t * C          (N = normal copy number, 2)
    mutant copies             = t * phi * m                   (phi = CCF, m = multiplicity)
    expected VAF              = [t phi m (1 - e) + (copies - t phi m) e] / copies

with t the tumour fraction (tumour content) of the sample and e the per-base error rate (reads of a
reference copy showing the alternate base, and the reverse). ``phi`` is the fraction of tumour
cells carrying the variant, in [0, 1]; ``m`` (1 <= m <= major copy number) is the number of
mutant copies per carrying cell, shared by all samples of a variant. Counts are fragments.

Allele counts are scored with a beta-binomial of precision ``s`` (``s = inf``: binomial), whose
variance n p (1 - p) (n + s) / (1 + s) absorbs the extra-binomial scatter of deep capture data.
Likelihoods are tabulated on a CCF grid, as PyClone-VI does, so that every later step (the mixture,
intervals, multiplicity) is a sum or an argmax over the same table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

from ..stats.binomial import wilson_interval, z_for_level

BINOMIAL = float("inf")


@dataclass
class MutationData:
    """Counts and copy numbers of N variants in D samples (arrays of shape (N, D)).

    Missing observations (a variant not measured in a sample) have ref = alt = 0, which makes
    their likelihood flat. ``major_cn`` bounds the multiplicity; ``tumour_cn`` is the total tumour
    copy number; ``tumour_content`` is the sample's tumour fraction (same for every variant of a
    sample in the pipeline; PyClone files may vary it)."""

    mutation_ids: list[str]
    sample_ids: list[str]
    ref: np.ndarray
    alt: np.ndarray
    tumour_content: np.ndarray
    tumour_cn: np.ndarray
    major_cn: np.ndarray
    normal_cn: np.ndarray
    error_rate: np.ndarray
    annotations: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        shape = (len(self.mutation_ids), len(self.sample_ids))
        for name in ("ref", "alt", "tumour_content", "tumour_cn", "major_cn", "normal_cn",
                     "error_rate"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != shape:
                raise ValueError(f"MutationData.{name} has shape {arr.shape}, expected {shape}")
            setattr(self, name, arr)
        self.major_cn = np.maximum(np.rint(self.major_cn), 1.0)

    @property
    def depth(self) -> np.ndarray:
        return self.ref + self.alt

    @property
    def max_multiplicity(self) -> int:
        return int(self.major_cn.max()) if self.major_cn.size else 1

    def subset(self, rows: np.ndarray) -> "MutationData":
        rows = np.asarray(rows)
        ann = self.annotations.iloc[rows].reset_index(drop=True) if len(self.annotations) else \
            self.annotations
        return MutationData(
            [self.mutation_ids[i] for i in rows], list(self.sample_ids), self.ref[rows],
            self.alt[rows], self.tumour_content[rows], self.tumour_cn[rows], self.major_cn[rows],
            self.normal_cn[rows], self.error_rate[rows], ann,
        )


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) along ``axis`` (rows of -inf give -inf); a lean version of scipy's, which
    is several times slower on the small arrays the EM loops over."""
    mx = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
    return out if keepdims else np.squeeze(out, axis=axis)


def ccf_grid(points: int) -> np.ndarray:
    """The CCF grid: ``points`` equally spaced values from 0 to 1 inclusive."""
    return np.linspace(0.0, 1.0, int(points))


def expected_vaf(phi, m, t, tumour_cn, normal_cn=2.0, error_rate=0.0):
    """Expected fraction of alternate-allele fragments (broadcasting numpy arrays)."""
    copies = (1.0 - t) * normal_cn + t * tumour_cn
    mutant = t * phi * m
    mutant = np.minimum(mutant, copies)
    copies = np.maximum(copies, 1e-12)
    return (mutant * (1.0 - error_rate) + (copies - mutant) * error_rate) / copies


def log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def log_count_likelihood(alt, depth, vaf, precision: float) -> np.ndarray:
    """log P(alt | depth, vaf) under a beta-binomial of the given precision (inf: binomial)."""
    vaf = np.clip(vaf, 1e-9, 1.0 - 1e-9)
    ref = depth - alt
    if not np.isfinite(precision):
        return log_choose(depth, alt) + alt * np.log(vaf) + ref * np.log1p(-vaf)
    a = vaf * precision
    b = precision - a
    return log_choose(depth, alt) + betaln(alt + a, ref + b) - betaln(a, b)


@dataclass
class Multiplicities:
    """The (variant, multiplicity) pairs the model considers: m = 1..major_cn of each variant (its
    largest major copy number over samples), uniform prior. Pairs are grouped by variant, in
    variant order, so per-variant sums are ``reduceat`` over ``starts``; storing pairs instead of
    an (N, max m) array keeps one highly amplified variant (major_cn 48 in TRACERx) cheap."""

    variant: np.ndarray  # (P,) variant index of each pair
    m: np.ndarray  # (P,) multiplicity
    log_prior: np.ndarray  # (P,)
    starts: np.ndarray  # (N,) first pair of each variant
    counts: np.ndarray  # (N,) pairs per variant

    def segment_logsumexp(self, x: np.ndarray) -> np.ndarray:
        """log-sum-exp over each variant's pairs along axis 0: (P, ...) -> (N, ...)."""
        mx = np.maximum.reduceat(x, self.starts, axis=0)
        safe = np.where(np.isfinite(mx), mx, 0.0)
        total = np.add.reduceat(np.exp(x - np.repeat(safe, self.counts, axis=0)), self.starts,
                                axis=0)
        with np.errstate(divide="ignore"):
            return np.log(total) + safe

    def segment_argmax(self, x: np.ndarray) -> np.ndarray:
        """Index (into pairs) of each variant's largest x (first on ties): (P,) -> (N,)."""
        mx = np.maximum.reduceat(x, self.starts)
        hits = np.flatnonzero(x >= np.repeat(mx, self.counts))
        _, first = np.unique(self.variant[hits], return_index=True)
        return hits[first]


def multiplicities(data: MutationData, max_multiplicity: int | None = None) -> Multiplicities:
    """Candidate multiplicities of every variant (see ``Multiplicities``)."""
    top = np.maximum(data.major_cn.max(axis=1), 1).astype(int) if data.major_cn.size else \
        np.ones(0, dtype=int)
    if max_multiplicity is not None:
        top = np.minimum(top, int(max_multiplicity))
    variant = np.repeat(np.arange(top.size), top)
    starts = np.concatenate([[0], np.cumsum(top)[:-1]]).astype(int)
    m = (np.arange(variant.size) - np.repeat(starts, top) + 1).astype(float)
    log_prior = -np.log(np.repeat(top, top).astype(float))
    return Multiplicities(variant, m, log_prior, starts, top)


def log_likelihood_grid(data: MutationData, grid: np.ndarray, precision: float,
                        mult: Multiplicities) -> np.ndarray:
    """log P(counts of the pair's variant in sample d | phi = grid[g], the pair's multiplicity):
    an array of shape (P, D, G). In a sample whose copy number cannot hold m mutant copies
    (major_cn < m) the multiplicity is capped at major_cn there."""
    v = mult.variant
    alt = data.alt[v][:, :, None]
    depth = data.depth[v][:, :, None]
    m = np.minimum(mult.m[:, None], data.major_cn[v])[:, :, None]
    vaf = expected_vaf(grid[None, None, :], m, data.tumour_content[v][:, :, None],
                       data.tumour_cn[v][:, :, None], data.normal_cn[v][:, :, None],
                       data.error_rate[v][:, :, None])
    return log_count_likelihood(alt, depth, vaf, precision)


def grid_summary(log_post: np.ndarray, grid: np.ndarray, level: float = 0.95):
    """Mean, MAP and equal-tailed ``level`` interval of distributions on ``grid`` given as
    unnormalised log densities along the last axis (uniform prior over the grid points)."""
    lp = log_post - log_post.max(axis=-1, keepdims=True)
    p = np.exp(lp)
    p /= p.sum(axis=-1, keepdims=True)
    mean = (p * grid).sum(axis=-1)
    mode = grid[np.argmax(p, axis=-1)]
    cdf = np.cumsum(p, axis=-1)
    tail = (1.0 - level) / 2.0
    lower = grid[np.minimum((cdf < tail).sum(axis=-1), grid.size - 1)]
    upper = grid[np.minimum((cdf < 1.0 - tail).sum(axis=-1), grid.size - 1)]
    std = np.sqrt(np.maximum((p * grid**2).sum(axis=-1) - mean**2, 0.0))
    return mean, mode, lower, upper, std


def variant_ccf(data: MutationData, grid_points: int = 201, precision: float = BINOMIAL,
                level: float = 0.95) -> pd.DataFrame:
    """Per variant and sample: multiplicity (MAP over 1..major_cn, from all samples together, with
    its posterior probability), CCF (posterior mean given that multiplicity; uniform prior on
    [0, 1]) with a ``level`` interval, the unclipped moment estimate ``ccf_raw`` = VAF x copies /
    (t m), and the mutation copy number VAF x copies / t (with a Wilson interval from the VAF).
    Samples with tumour content ~0 have no CCF (NaN)."""
    grid = ccf_grid(grid_points)
    mult = multiplicities(data)
    ll = log_likelihood_grid(data, grid, precision, mult)  # (P, D, G)
    # Marginal over phi (uniform prior) per sample, then over samples for the shared multiplicity.
    per_sample = logsumexp(ll, axis=-1) - np.log(grid.size)
    log_pair = mult.log_prior + per_sample.sum(axis=-1)
    log_m_post = log_pair - np.repeat(mult.segment_logsumexp(log_pair), mult.counts)
    best = mult.segment_argmax(log_m_post)  # (N,) pair index
    m_best = mult.m[best]
    mean, mode, lower, upper, _ = grid_summary(ll[best], grid, level)
    t = data.tumour_content
    copies = (1.0 - t) * data.normal_cn + t * data.tumour_cn
    depth = data.depth
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, data.alt / depth, np.nan)
        v_lo, v_hi = wilson_interval(data.alt, depth, z_for_level(level), exact_bounds=False)
        mcn = np.where(t > 1e-6, vaf * copies / t, np.nan)
        mcn_lo = np.where(t > 1e-6, v_lo * copies / t, np.nan)
        mcn_hi = np.where(t > 1e-6, v_hi * copies / t, np.nan)
        m_eff = np.minimum(m_best[:, None], data.major_cn)
        raw = mcn / m_eff
    informative = (t > 1e-6) & (depth > 0)
    rows = []
    for i, mid in enumerate(data.mutation_ids):
        for d, sid in enumerate(data.sample_ids):
            ok = informative[i, d]
            rows.append({
                "mutation_id": mid, "sample_id": sid,
                "ref_count": int(data.ref[i, d]), "alt_count": int(data.alt[i, d]),
                "vaf": vaf[i, d], "tumour_content": t[i, d],
                "tumour_copy_number": data.tumour_cn[i, d],
                "major_copy_number": data.major_cn[i, d],
                "mutation_copy_number": mcn[i, d], "mutation_copy_number_lower": mcn_lo[i, d],
                "mutation_copy_number_upper": mcn_hi[i, d],
                "multiplicity": int(m_best[i]),
                "multiplicity_probability": float(np.exp(log_m_post[best[i]])),
                "ccf_raw": raw[i, d],
                "ccf": mean[i, d] if ok else np.nan,
                "ccf_lower": lower[i, d] if ok else np.nan,
                "ccf_upper": upper[i, d] if ok else np.nan,
            })
    return pd.DataFrame(rows)
