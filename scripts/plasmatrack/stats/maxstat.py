"""Maximally selected log-rank statistics: the cut-point of a continuous marker that best separates
survival, with a p-value adjusted for having searched over cut-points.

Follows R's ``maxstat`` (Hothorn & Lausen 2003, ``smethod="LogRank"``): each subject gets a log-rank
score a_i = delta_i - H(t_i) (H a cumulative hazard at the subject's own time; ties as in
exactRankTests, see :func:`logrank_scores`); for a cut mu the linear statistic
S(mu) = sum of scores with marker <= mu is standardised with its permutation mean and variance,
and M = max |S(mu)|/sd over the cuts whose lower group holds between ``min_prop`` and
``max_prop`` of the subjects. Three p-values for M:

- Lausen & Schumacher (1992), the asymptotic approximation (``Lau92``);
- Lausen, Sauerbrei & Schumacher (1994), the improved Bonferroni inequality that uses the actual
  cut positions (``Lau94``), an upper bound: tight when there are few cuts, conservative
  (1.3-2x) when every subject is a cut;
- the multivariate-normal limit of the statistics evaluated exactly (``gauss``, R maxstat's
  ``exactGauss``; see :func:`p_gauss`): this is the one the pipeline reports as
  ``p_value_adjusted`` by default, because it agrees with the permutation p within Monte Carlo
  error for continuous and coarse markers alike (docs/cohort.md);
- a conditional Monte Carlo (permutation) estimate: scores permuted against the marker, M
  recomputed; p = (1 + #{M* >= M}) / (B + 1).

Times are in any unit (only their order matters); the marker in its own unit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

# Relative slack when comparing permuted maxima with the observed one: the same cut evaluated in
# a different summation order differs in the last bits, and must count as "as extreme".
_TIE_SLACK = 1e-10
_SQRT_2PI = float(np.sqrt(2 * np.pi))


@dataclass(frozen=True)
class MaxstatResult:
    """Outcome of :func:`maxstat_test`. ``cutpoint``: the largest marker value of the low group
    (low = marker <= cutpoint). ``cuts``/``stats``: every candidate cut and its standardised
    statistic (for a plot). ``p_permutation`` is None when no permutations were asked for."""

    cutpoint: float
    statistic: float
    p_lausen92: float
    p_lausen94: float
    p_gauss: float
    p_permutation: float | None
    permutations: int
    n: int
    n_low: int
    cuts: np.ndarray
    stats: np.ndarray
    min_prop: float
    max_prop: float


def logrank_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Log-rank scores a_i = delta_i - sum over events j with t_j <= t_i of 1 / (N - r_j + 1),
    r_j the rank of t_j with ties given the maximum rank. This is exactRankTests' ``cscores.Surv``
    (the scores R's maxstat uses), so statistics match R to the printed digits; without ties it
    is delta_i minus the Nelson-Aalen cumulative hazard at t_i."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    n = len(time)
    order = np.argsort(time, kind="mergesort")
    max_rank = rankdata(time, method="max").astype(int)
    increments = event / (n - max_rank + 1)
    return event - np.cumsum(increments[order])[max_rank - 1]


def candidate_sizes(marker_sorted: np.ndarray, min_prop: float, max_prop: float) -> np.ndarray:
    """Sizes m of the low group for every admissible cut: m = number of subjects with a marker
    below a distinct value, kept when floor(N*min_prop) <= m <= floor(N*max_prop) and 1 <= m < N
    (as maxstat's ``cmaxstat``)."""
    n = len(marker_sorted)
    first_of_value = np.flatnonzero(np.r_[True, marker_sorted[1:] != marker_sorted[:-1]])
    m = first_of_value  # subjects strictly below each distinct value = low group of the cut before
    m = m[(m >= np.floor(n * min_prop)) & (m <= np.floor(n * max_prop))]
    return m[(m >= 1) & (m < n)]


def _standardised(scores_sorted: np.ndarray, m: np.ndarray) -> np.ndarray:
    n = len(scores_sorted)
    total = scores_sorted.sum()
    expected = m / n * total
    variance = m * (n - m) / (n**2 * (n - 1)) * (n * np.sum(scores_sorted**2) - total**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs((np.cumsum(scores_sorted)[m - 1] - expected) / np.sqrt(variance))


def p_lausen92(b: float, min_prop: float = 0.1, max_prop: float = 0.9) -> float:
    """Lausen & Schumacher (1992) asymptotic P(M >= b) for the selection range [min_prop,
    max_prop]."""
    db = norm.pdf(b)
    p = 4 * db / b + db * (b - 1 / b) * np.log((max_prop * (1 - min_prop))
                                               / ((1 - max_prop) * min_prop))
    return float(min(max(p, 0.0), 1.0))


def p_lausen94(b: float, n: int, m: np.ndarray) -> float:
    """Lausen, Sauerbrei & Schumacher (1994) improved Bonferroni bound on P(M >= b), using the
    actual low-group sizes ``m`` of the candidate cuts (N = ``n`` subjects)."""
    m = np.asarray(m, dtype=float)
    p_single = 2 * norm.sf(b)
    if len(m) < 2:
        return float(min(p_single, 1.0))
    m1, m2 = m[:-1], m[1:]
    t = np.sqrt(1 - m1 * (n - m2) / ((n - m1) * m2))
    d = np.sum(np.exp(-b**2 / 2) / np.pi * (t - (b**2 / 4 - 1) * t**3 / 6))
    return float(min(max(p_single + d, 0.0), 1.0))


def p_gauss(b: float, n: int, m: np.ndarray, grid: int | None = None) -> float:
    """P(M >= b) under the multivariate normal limit of the standardised statistics (Hothorn &
    Lausen 2003's ``exactGauss``), computed exactly up to a quadrature grid instead of by Genz's
    Monte Carlo integration.

    Under permutation, the standardised statistics Z_m of the cuts with low-group sizes m have the
    correlation sqrt(m_i (n - m_j) / (m_j (n - m_i))) (m_i < m_j) whatever the scores: that of a
    Brownian bridge B(t)/sqrt(t (1 - t)) at t = m/n. With s = t / (1 - t), B(t) = (1 - t) W(s)
    for a Brownian motion W, so Z_m = W(s_m) / sqrt(s_m) and {M < b} is the event that W stays
    within +-b sqrt(s_m) at every s_m: a Markov chain with independent Gaussian increments, whose
    probability a forward recursion over a grid on each cut's interval gives (Simpson weights,
    ``grid`` points; by default enough for a spacing of a third of the narrowest transition's
    SD, which keeps the result stable to 1e-5 where a coarser grid fails). Unlike the
    Lausen-Schumacher bounds it is not conservative when every subject is a cut (a continuous
    marker)."""
    m = np.unique(np.asarray(m, dtype=float))
    if len(m) == 0 or b <= 0:
        return 1.0
    s = m / (n - m)
    if grid is None:
        ratio = (2 * b * np.sqrt(s[1:])) / np.sqrt(np.diff(s)) if len(s) > 1 else np.array([0])
        grid = int(np.clip(3 * ratio.max() + 1, 201, 2001))
    grid += 1 - grid % 2  # odd, for Simpson's rule
    weights = np.ones(grid)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    x = np.linspace(-1.0, 1.0, grid)  # the interval of each cut, in units of b sqrt(s)
    log_inside = 0.0  # log P(inside at every cut so far)
    mass = w = None
    for i in range(len(s)):
        w_new = x * b * np.sqrt(s[i])
        if i == 0:
            density = norm.pdf(w_new, scale=np.sqrt(s[0]))  # W(s_1)
        else:
            sd = np.sqrt(s[i] - s[i - 1])
            kernel = np.exp(-0.5 * ((w_new[:, None] - w[None, :]) / sd) ** 2) / (_SQRT_2PI * sd)
            density = kernel @ mass
        mass = density * weights * (w_new[1] - w_new[0]) / 3.0
        # Conditional probability of staying inside at this cut; the mass is renormalised to
        # stay in floating-point range.
        total = mass.sum()
        if total <= 0:
            return 1.0
        log_inside += np.log(total)
        mass /= total
        w = w_new
    return float(min(max(1.0 - np.exp(log_inside), 0.0), 1.0))


def permutation_maxima(scores_sorted: np.ndarray, m: np.ndarray, permutations: int,
                       rng: np.random.Generator, chunk: int = 2000) -> np.ndarray:
    """M recomputed for ``permutations`` random re-assignments of the scores to the (fixed)
    marker order: the conditional null distribution of M."""
    out = np.empty(permutations)
    done = 0
    while done < permutations:
        k = min(chunk, permutations - done)
        perm = rng.permuted(np.broadcast_to(scores_sorted, (k, len(scores_sorted))), axis=1)
        n = len(scores_sorted)
        total = scores_sorted.sum()
        expected = m / n * total
        sd = np.sqrt(m * (n - m) / (n**2 * (n - 1)) * (n * np.sum(scores_sorted**2) - total**2))
        partial = np.cumsum(perm, axis=1)[:, m - 1]
        out[done:done + k] = np.max(np.abs((partial - expected) / sd), axis=1)
        done += k
    return out


def maxstat_test(time, event, marker, min_prop: float = 0.1, max_prop: float | None = None,
                 permutations: int = 0, seed: int = 1) -> MaxstatResult:
    """Maximally selected log-rank statistic of ``marker`` for survival (``time``, ``event``:
    1 = event, 0 = censored). ``max_prop`` defaults to 1 - ``min_prop``. Raises ValueError when
    no admissible cut exists (e.g. fewer than two distinct marker values inside the range)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    marker = np.asarray(marker, dtype=float)
    if not (len(time) == len(event) == len(marker)):
        raise ValueError("time, event and marker must have the same length")
    if np.isnan(time).any() or np.isnan(event).any() or np.isnan(marker).any():
        raise ValueError("missing values: drop incomplete rows first")
    max_prop = 1 - min_prop if max_prop is None else max_prop
    n = len(time)
    if n < 3 or event.sum() == 0:
        raise ValueError("maxstat needs at least 3 subjects and 1 event")
    scores = logrank_scores(time, event)
    order = np.argsort(marker, kind="mergesort")
    x_sorted = marker[order]
    s_sorted = scores[order]
    m = candidate_sizes(x_sorted, min_prop, max_prop)
    if len(m) == 0:
        raise ValueError(
            f"no cut-point leaves between {min_prop:.0%} and {max_prop:.0%} of the {n} subjects "
            "in the low group"
        )
    stats = _standardised(s_sorted, m)
    if not np.isfinite(stats).any():
        raise ValueError("the log-rank scores do not vary (no information to split on)")
    stats = np.nan_to_num(stats, nan=0.0)
    best = int(np.argmax(stats))
    statistic = float(stats[best])
    p_perm = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        null = permutation_maxima(s_sorted, m, permutations, rng)
        p_perm = float((1 + np.sum(null >= statistic * (1 - _TIE_SLACK))) / (permutations + 1))
    return MaxstatResult(
        cutpoint=float(x_sorted[m[best] - 1]),
        statistic=statistic,
        p_lausen92=p_lausen92(statistic, min_prop, max_prop),
        p_lausen94=p_lausen94(statistic, n, m),
        p_gauss=p_gauss(statistic, n, m),
        p_permutation=p_perm,
        permutations=int(permutations),
        n=n,
        n_low=int(m[best]),
        cuts=x_sorted[m - 1],
        stats=stats,
        min_prop=min_prop,
        max_prop=max_prop,
    )
