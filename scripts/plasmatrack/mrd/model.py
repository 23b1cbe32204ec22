"""The pooled tumour-fraction model of one draw: one TF shared by all of a patient's variants.

At variant i a draw has ``depth`` informative molecules, ``mutant`` of them with the variant;
``rate`` is the site's background (error) rate and ``weight`` the mutant allele fraction per unit
tumour fraction: ``ccf x multiplicity / 2`` (a clonal heterozygous variant in a diploid region
has VAF = TF / 2 at low TF). The mutant molecules are binomial with probability
``rate + tf x weight``. The likelihood-ratio statistic of one shared TF > 0 against TF = 0 is
calibrated by Monte Carlo under the null (background only), with every site's rate drawn from
its posterior and the pooled background level from its own posterior, so the p-value carries
the uncertainty of a background measured on few control molecules. Simulations stop early once
enough null statistics exceed the observed one (Besag and Clifford's sequential Monte Carlo
p-value).

``lod95`` uses the pooled-count Poisson test at the estimated background: the TF at which the
draw's expected mutant molecules ``B + TF x C`` (B = sum depth x rate, C = sum depth x weight)
reach the critical count of a one-sided Poisson test at level ``alpha`` with 95 % probability.
The same function at the true background is the power bound of the benchmark (docs/mrd.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

# Bisection steps of the TF fit in log space between TF_FLOOR and the upper bound (a range of
# e^21: 30 halvings leave a relative error of 2e-8).
BISECTION_STEPS = 30
TF_FLOOR = 1e-9
# Chi-square(1) 95 % quantile: the profile-likelihood interval drops this much from the maximum.
CHI2_95 = float(stats.chi2.ppf(0.95, 1))
# Sequential Monte Carlo: simulate in batches (the first of MC_FIRST_BATCH, each next one twice
# as large) and stop once this many null statistics reach the observed one (the p-value is then
# known to ~20 % and far above any detection threshold).
MC_FIRST_BATCH = 100
MC_STOP_EXCEEDANCES = 20


@dataclass(frozen=True)
class Evidence:
    """One draw's counts at its variants (1-D arrays of equal length): informative and mutant
    molecules, background rate, weight (mutant allele fraction per unit TF), and what the rate
    was estimated from: the class rate of its prior (``prior_rate``; the prior is Beta with
    shape ``prior_shape`` and that mean) and the site's control counts.
    ``level_alpha``/``level_beta``: the posterior of the pooled background level the class
    rates are anchored to. ``group``: when several rows share one site (the length bins of
    fragment-length weighting), the site of each row; the rows of a site share its rate."""

    depth: np.ndarray
    mutant: np.ndarray
    rate: np.ndarray
    weight: np.ndarray
    prior_rate: np.ndarray
    control_mutant: np.ndarray
    control_depth: np.ndarray
    prior_shape: float
    level_alpha: float
    level_beta: float
    group: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> "Evidence":
        """The evidence of the variants where ``keep`` is true."""
        arrays = (self.depth, self.mutant, self.rate, self.weight, self.prior_rate,
                  self.control_mutant, self.control_depth)
        return Evidence(*(np.asarray(v)[keep] for v in arrays), self.prior_shape,
                        self.level_alpha, self.level_beta,
                        None if self.group is None else self.group[keep])

    @property
    def informative(self) -> int:
        return int(np.sum(self.depth))

    @property
    def background_expected(self) -> float:
        return float(np.sum(self.depth * self.rate))

    def sample_rates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws (rows) of the site rates from their posterior: the pooled level drawn
        from its posterior moves every class rate, and each site's rate is Beta around it
        updated with the site's control counts (so a site measured on many control molecules
        keeps its own rate, one measured on few follows the level)."""
        level = rng.beta(self.level_alpha, self.level_beta, size=(n, 1))
        level /= self.level_alpha / (self.level_alpha + self.level_beta)
        prior = np.clip(self.prior_rate * level, 1e-12, 0.5)
        a = self.prior_shape + self.control_mutant
        b = self.prior_shape * (1 - prior) / prior + self.control_depth - self.control_mutant
        if self.group is None:
            return np.clip(rng.beta(a, b), 0.0, 0.5)
        # One rate per site, shared by its rows.
        _, first, row_site = np.unique(self.group, return_index=True, return_inverse=True)
        return np.clip(rng.beta(a[first], b[:, first]), 0.0, 0.5)[:, row_site]


def _tf_upper(rate: np.ndarray, weight: np.ndarray) -> float:
    """Largest TF keeping every mutant probability below 1 (and TF <= 1)."""
    room = (1.0 - rate) / np.maximum(weight, 1e-12)
    return float(min(1.0, np.min(room) * (1 - 1e-9))) if room.size else 1.0


def log_likelihood(tf, ev: Evidence, mutant: np.ndarray | None = None) -> np.ndarray:
    """Binomial log-likelihood (up to a constant) at TF ``tf`` (scalar or array of shape
    (n, 1) against ``mutant`` of shape (n, sites))."""
    m = ev.mutant if mutant is None else mutant
    p = ev.rate + np.asarray(tf, dtype=float) * ev.weight
    return np.sum(m * np.log(p) + (ev.depth - m) * np.log1p(-p), axis=-1)


def fit_tf(ev: Evidence, mutant: np.ndarray | None = None) -> np.ndarray:
    """Maximum-likelihood TF for each row of ``mutant`` (default: the observed counts; shape
    (sites,) -> scalar array, (n, sites) -> (n,)). The score is decreasing in TF, so the
    maximum is 0 when the score at 0 is negative, else the root found by bisection."""
    m_all = np.atleast_2d(ev.mutant if mutant is None else mutant).astype(float)
    d, e, c = ev.depth, ev.rate, ev.weight

    def score(tf, m):
        p = e + tf[:, None] * c
        return np.sum(c * (m / p - (d - m) / (1 - p)), axis=1)

    tf = np.zeros(m_all.shape[0])
    # Only rows whose score at TF 0 is positive have a maximum above 0 (under the null, about
    # half of the simulated draws): bisect those alone.
    positive = score(tf, m_all) > 0
    m = m_all[positive]
    lo = np.full(m.shape[0], np.log(TF_FLOOR))
    hi = np.full(m.shape[0], np.log(_tf_upper(e, c)))
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        up = score(np.exp(mid), m) > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    tf[positive] = np.exp((lo + hi) / 2)
    return tf if mutant is not None and np.ndim(mutant) == 2 else tf[:1].reshape(())


def lr_statistic(ev: Evidence, mutant: np.ndarray | None = None,
                 tf: np.ndarray | None = None) -> np.ndarray:
    """2 x (log-likelihood at the fitted TF - log-likelihood at TF 0), per row of ``mutant``."""
    m = np.atleast_2d(ev.mutant if mutant is None else mutant).astype(float)
    tf = fit_tf(ev, m) if tf is None else np.atleast_1d(tf)
    stat = 2 * (log_likelihood(tf[:, None], ev, m) - log_likelihood(0.0, ev, m))
    return np.maximum(stat, 0.0)


def mc_p_value(ev: Evidence, observed: float, n_simulations: int,
               rng: np.random.Generator) -> float:
    """P(LR >= observed) under TF 0, each simulated draw with its site rates drawn from their
    posterior (``Evidence.sample_rates``)."""
    if observed <= 0:
        return 1.0
    exceed = done = 0
    batch = MC_FIRST_BATCH
    while done < n_simulations and exceed < MC_STOP_EXCEEDANCES:
        n = min(batch, n_simulations - done)
        batch *= 2
        rates = ev.sample_rates(n, rng)
        mutant = rng.binomial(ev.depth.astype(np.int64), rates)
        exceed += int(np.sum(lr_statistic(ev, mutant) >= observed * (1 - 1e-9)))
        done += n
    return (exceed + 1) / (done + 1)


def tf_interval(ev: Evidence, tf_hat: float) -> tuple[float, float]:
    """95 % profile-likelihood interval of the TF (the lower end is 0 when TF 0 is inside)."""
    top = float(log_likelihood(tf_hat, ev))
    hi_bound = _tf_upper(ev.rate, ev.weight)

    def inside(tf: float) -> bool:
        return 2 * (top - float(log_likelihood(tf, ev))) <= CHI2_95

    def boundary(a: float, b: float) -> float:
        # a is inside the interval, b outside: bisection in log space
        la, lb = np.log(max(a, TF_FLOOR)), np.log(max(b, TF_FLOOR))
        for _ in range(BISECTION_STEPS):
            mid = (la + lb) / 2
            la, lb = (mid, lb) if inside(float(np.exp(mid))) else (la, mid)
        return float(np.exp((la + lb) / 2))

    start = max(tf_hat, TF_FLOOR)
    lower = 0.0 if inside(0.0) else boundary(start, TF_FLOOR)
    upper = hi_bound if inside(hi_bound) else boundary(start, hi_bound)
    return lower, upper


def poisson_critical_count(background: float, alpha: float) -> int:
    """Smallest k with P(Poisson(background) >= k) < alpha."""
    k = int(stats.poisson.isf(alpha, background)) if background > 0 else 0
    while stats.poisson.sf(k - 1, background) >= alpha:
        k += 1
    while k > 1 and stats.poisson.sf(k - 2, background) < alpha:
        k -= 1
    return max(k, 1)


def poisson_lod95(background: float, signal_per_tf: float, alpha: float) -> float:
    """TF detected with 95 % probability by the pooled-count Poisson test at level ``alpha``:
    ``background`` expected background molecules, ``signal_per_tf`` expected mutant molecules
    per unit TF (sum of depth x weight). NaN without informative molecules."""
    if signal_per_tf <= 0:
        return float("nan")
    k = poisson_critical_count(background, alpha)
    # P(Poisson(mu) >= k) is the regularised lower incomplete gamma P(k, mu).
    mu = float(special.gammaincinv(k, 0.95))
    return max(mu - background, 0.0) / signal_per_tf


def poisson_power(background: float, signal: float, alpha: float) -> float:
    """Power of the pooled-count Poisson test at level ``alpha`` when ``signal`` mutant molecules
    are expected on top of ``background``."""
    k = poisson_critical_count(background, alpha)
    return float(stats.poisson.sf(k - 1, background + signal))
