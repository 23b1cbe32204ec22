"""Statistics of allele counts: the beta-binomial presence test and its power (the VAF interval is
:func:`plasmatrack.stats.binomial.wilson_interval`).

All functions are vectorised over numpy arrays of counts (fragments)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

# Below this p-value the tail is summed exactly (over at most TAIL_TERMS counts).
TAIL_EXACT_BELOW = 1e-8
TAIL_TERMS = 5000


def presence_p_value(alt, depth, a, b) -> np.ndarray:
    """P(X >= alt) for X ~ BetaBinomial(depth, a, b): the probability of at least this many alt
    fragments from background error alone, when the site's error rate is Beta(a, b)."""
    alt = np.asarray(alt, dtype=float)
    depth = np.asarray(depth, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), alt.shape)
    b = np.broadcast_to(np.asarray(b, dtype=float), alt.shape)
    out = np.ones(alt.shape)
    ok = (alt > 0) & (depth > 0)
    if ok.any():
        out[ok] = stats.betabinom.sf(alt[ok] - 1, depth[ok], a[ok], b[ok])
    # scipy's survival function loses precision far out in the tail (1 - cdf); there, sum the
    # probability mass of the tail in log space instead.
    for i in np.flatnonzero(ok & (out < TAIL_EXACT_BELOW)):
        k = np.arange(alt[i], min(depth[i], alt[i] + TAIL_TERMS) + 1)
        out[i] = np.exp(special.logsumexp(stats.betabinom.logpmf(k, depth[i], a[i], b[i])))
    return np.clip(out, 0.0, 1.0)


def min_detectable_alt(depth, a, b, threshold: float) -> np.ndarray:
    """Smallest alt count k with P(X >= k) < threshold under BetaBinomial(depth, a, b)
    (depth + 1 when even depth alt fragments would not be significant)."""
    depth = np.asarray(depth, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), depth.shape)
    b = np.broadcast_to(np.asarray(b, dtype=float), depth.shape)
    k = np.full(depth.shape, np.nan)
    ok = depth > 0
    if not ok.any():
        return k
    n, aa, bb = depth[ok], a[ok], b[ok]
    guess = np.nan_to_num(stats.betabinom.isf(threshold, n, aa, bb), nan=0.0)
    guess = np.clip(guess, 0, n)
    best = n + 1
    # isf is exact up to the discreteness of the distribution; check its neighbours.
    for offset in (2, 1, 0, -1):
        cand = np.clip(guess + offset, 1, n)
        good = stats.betabinom.sf(cand - 1, n, aa, bb) < threshold
        best = np.where(good, np.minimum(best, cand), best)
    k[ok] = best
    return k


def detection_power(depth, vaf, background_rate, a, b, threshold: float) -> np.ndarray:
    """Probability that a variant at true ``vaf`` reaches the detection threshold at this depth:
    P(Binomial(depth, vaf + (1 - vaf) * background) >= k_min). 0 where depth is 0."""
    depth = np.asarray(depth, dtype=float)
    k = min_detectable_alt(depth, a, b, threshold)
    rate = np.clip(np.asarray(vaf, dtype=float) + (1 - np.asarray(vaf, dtype=float))
                   * np.asarray(background_rate, dtype=float), 0, 1)
    rate = np.broadcast_to(rate, depth.shape)
    power = np.zeros(depth.shape)
    ok = (depth > 0) & np.isfinite(k) & np.isfinite(rate)
    if ok.any():
        power[ok] = stats.binom.sf(k[ok] - 1, depth[ok], rate[ok])
    return power


def fisher_strand_p(ref_fwd, ref_rev, alt_fwd, alt_rev) -> float:
    """Two-sided Fisher exact p of the 2x2 table of ref/alt by strand (1.0 if a margin is 0)."""
    table = np.array([[ref_fwd, ref_rev], [alt_fwd, alt_rev]], dtype=int)
    if table.sum(axis=0).min() == 0 or table.sum(axis=1).min() == 0:
        return 1.0
    return float(stats.fisher_exact(table).pvalue)


def pooled_background_p_value(alt: float, depth: float, background: float,
                              overdispersion: float) -> float:
    """Upper tail of a binomial(depth, background) at ``alt``, counts divided by the
    overdispersion (a quasi-binomial test; continuous in the counts)."""
    if not (depth > 0 and math.isfinite(background)):
        return math.nan
    phi = overdispersion if math.isfinite(overdispersion) and overdispersion >= 1 else 1.0
    a, n = alt / phi, depth / phi
    if a <= 0:
        return 1.0
    bg = min(max(background, 1e-9), 1 - 1e-9)
    return float(special.betainc(a, max(n - a + 1.0, 1e-9), bg))
