"""Clustering variants by their CCF trajectories: a beta-binomial mixture fitted by EM on a grid.

The model is PyClone-VI's (a mixture over clusters, each with one CCF per sample; a variant's
counts in every sample are beta-binomial around the VAF its cluster's CCF implies, marginalised
over the variant's multiplicity) with three differences, each chosen for serial plasma:

* the multiplicity of a variant is one latent value shared by all its samples (PyClone-VI lets
  it differ between samples), so a truncal variant with two mutant copies cannot pass for a
  CCF-1 variant in one draw and a CCF-0.5 one in the next;
* the fit is EM with a point CCF per cluster and sample on the grid (maximum likelihood), and the
  number of clusters K is chosen explicitly, by the Bayesian information criterion
  BIC = -2 log L + p log N, p = K x D_informative + (K - 1) [+ 1 for a fitted precision],
  N = number of variants, the penalty optionally scaled (``penalty``) or AIC's 2 per parameter
  (``criterion="aic"``); the smallest K within 1e-9 of the best criterion wins ties;
* the beta-binomial precision is estimated by maximum likelihood from a fixed ladder
  (``PRECISION_LADDER``; ``inf`` = binomial) unless the user fixes it.

Every K from 1 to ``max_clusters`` is fitted from ``restarts`` starts: one that splits the
worst-fitted variant off the best (K - 1)-cluster fit, the others k-means++ seeds on the
variants' own CCF estimates drawn from ``numpy.random.default_rng([seed, K, restart])``, so a run
is deterministic per seed. The search stops after ``patience`` K values without a better BIC.

Cluster prevalence intervals come from the grid posterior of each cluster's CCF given its
(soft) members, as PyClone-VI's q(theta). Variants are flagged, not dropped: ``poor_fit`` when
their counts reject their cluster (deviance vs their own best trajectory, chi-square with one
degree of freedom per informative sample, p < ``outlier_p``), ``small_cluster`` when their
cluster has fewer than ``min_cluster_size`` variants (in a small panel a resistance clone is
often one hotspot, so such clusters are kept and labelled rather than merged away), and
``outlier`` when their cluster held fewer than ``ceil(min_cluster_fraction x N)`` variants in a
large input and was dissolved (its variants reassigned to the nearest remaining cluster)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2

from .ccf import (
    BINOMIAL,
    MutationData,
    ccf_grid,
    expected_vaf,
    grid_summary,
    log_count_likelihood,
    log_likelihood_grid,
    logsumexp,
    multiplicities,
)

PRECISION_LADDER = (10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 1e4, 3e4,
                    1e5, BINOMIAL)


@dataclass
class MixtureFit:
    """One EM fit with K clusters."""

    grid_index: np.ndarray  # (K, D) index into the CCF grid
    log_weights: np.ndarray  # (K,)
    resp: np.ndarray  # (N, K) P(cluster k | variant n)
    mult_post: np.ndarray  # (P, K) P(multiplicity of pair p | its variant, cluster k)
    loglik: float
    precision: float
    suff: np.ndarray  # (K, D, G) expected complete-data log-likelihood of each cluster's CCF
    n_iter: int

    @property
    def k(self) -> int:
        return self.grid_index.shape[0]


@dataclass
class ClusterSettings:
    max_clusters: int = 10
    restarts: int = 5
    seed: int = 0
    precision: float | str = "auto"
    grid_points: int = 101
    min_cluster_size: int = 2
    min_cluster_fraction: float = 0.01
    outlier_p: float = 1e-3
    patience: int = 2
    max_iter: int = 200
    level: float = 0.95
    penalty: float = 1.0
    tol: float = 1e-6  # EM stops when no cluster CCF moves and log L changes by < tol x |log L|
    criterion: str = "bic"  # bic | aic


@dataclass
class ClusterResult:
    """The chosen clustering. Cluster ids 0..K-1 by decreasing mean prevalence."""

    labels: np.ndarray  # (N,)
    probability: np.ndarray  # (N,) P(assigned cluster | data)
    multiplicity: np.ndarray  # (N,) MAP multiplicity within the assigned cluster
    prevalence: np.ndarray  # (K, D) posterior mean CCF
    prevalence_lower: np.ndarray
    prevalence_upper: np.ndarray
    prevalence_std: np.ndarray
    prevalence_mode: np.ndarray  # (K, D) posterior mode (0 for an absent clone)
    informative: np.ndarray  # (D,) samples with tumour content > 0 and reads
    sizes: np.ndarray  # (K,)
    flags: list[str]  # per variant: "" or ";"-joined flags
    precision: float
    loglik: float
    selection: pd.DataFrame  # k, precision, loglik, n_parameters, bic, chosen
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return self.prevalence.shape[0]


class _Model:
    """Likelihood tables per precision (cached) and the EM on them. Tables have shape (P, D, G):
    one row per (variant, multiplicity) pair (see ``ccf.Multiplicities``)."""

    def __init__(self, data: MutationData, settings: ClusterSettings):
        self.data = data
        self.settings = settings
        self.grid = ccf_grid(settings.grid_points)
        self.mult = multiplicities(data)
        self._tables: dict[float, np.ndarray] = {}
        t = data.tumour_content
        self.informative = ((t > 1e-6) & (data.depth > 0)).any(axis=0)
        self.n_informative = int(self.informative.sum())

    def table(self, precision: float) -> np.ndarray:
        if precision not in self._tables:
            if len(self._tables) >= 4:  # bound memory: drop the oldest table
                self._tables.pop(next(iter(self._tables)))
            self._tables[precision] = log_likelihood_grid(self.data, self.grid, precision,
                                                          self.mult)
        return self._tables[precision]

    def _cluster_loglik(self, L: np.ndarray, grid_index: np.ndarray):
        """Per pair and cluster log P(counts | cluster CCFs, m) + log prior(m): (P, K)."""
        K, D = grid_index.shape
        d_idx = np.broadcast_to(np.arange(D), (K, D))
        return L[:, d_idx, grid_index].sum(axis=-1) + self.mult.log_prior[:, None]

    # --- EM -------------------------------------------------------------------------------
    def em(self, L: np.ndarray, grid_index: np.ndarray, precision: float,
           log_weights: np.ndarray | None = None) -> MixtureFit:
        P, D, G = L.shape
        N = len(self.data.mutation_ids)
        K = grid_index.shape[0]
        v = self.mult.variant
        g = grid_index.copy()
        logw = np.full(K, -np.log(K)) if log_weights is None else log_weights.copy()
        flat_L = L.reshape(P, D * G)
        prev = -np.inf
        for it in range(1, self.settings.max_iter + 1):
            joint = self._cluster_loglik(L, g)  # (P, K)
            lk = self.mult.segment_logsumexp(joint)  # (N, K)
            mult_post = np.exp(joint - lk[v])
            lp = lk + logw[None, :]
            ll_n = logsumexp(lp, axis=1)
            resp = np.exp(lp - ll_n[:, None])
            loglik = float(ll_n.sum())
            W = resp[v] * mult_post  # (P, K)
            suff = (W.T @ flat_L).reshape(K, D, G)
            g_new = suff.argmax(axis=-1)
            nk = resp.sum(axis=0)
            with np.errstate(divide="ignore"):
                logw = np.log(nk / N)
            converged = (np.array_equal(g_new, g)
                         and abs(loglik - prev) <= self.settings.tol * abs(loglik))
            g = g_new
            prev = loglik
            if converged:
                break
        return MixtureFit(g, logw, resp, mult_post, loglik, precision, suff, it)

    def loglik_at(self, fit: MixtureFit, precision: float) -> float:
        """Observed-data log-likelihood of fit's clusters and weights under another precision."""
        data, v = self.data, self.mult.variant
        phi = self.grid[fit.grid_index]  # (K, D)
        m = np.minimum(self.mult.m[:, None], data.major_cn[v])  # (P, D)
        vaf = expected_vaf(phi[None, :, :], m[:, None, :], data.tumour_content[v][:, None, :],
                           data.tumour_cn[v][:, None, :], data.normal_cn[v][:, None, :],
                           data.error_rate[v][:, None, :])
        ll = log_count_likelihood(data.alt[v][:, None, :], data.depth[v][:, None, :], vaf,
                                  precision).sum(axis=-1)  # (P, K)
        lk = self.mult.segment_logsumexp(ll + self.mult.log_prior[:, None])
        return float(logsumexp(lk + fit.log_weights[None, :], axis=1).sum())

    def n_parameters(self, fit: MixtureFit, fitted_precision: bool) -> int:
        k_eff = int((fit.resp.sum(axis=0) > 1e-6).sum())
        return k_eff * max(self.n_informative, 1) + (k_eff - 1) + int(fitted_precision)

    def bic(self, fit: MixtureFit, fitted_precision: bool) -> float:
        n = max(len(self.data.mutation_ids), 2)
        per_parameter = 2.0 if self.settings.criterion == "aic" else np.log(n)
        return (-2.0 * fit.loglik
                + self.settings.penalty * self.n_parameters(fit, fitted_precision) * per_parameter)

    def own_loglik(self, L: np.ndarray) -> np.ndarray:
        """Each variant's log-likelihood at its own best CCF per sample and multiplicity: (N,)."""
        own = L.max(axis=-1).sum(axis=-1) + self.mult.log_prior
        return np.maximum.reduceat(own, self.mult.starts)

    # --- starts ---------------------------------------------------------------------------
    def variant_points(self, L: np.ndarray) -> np.ndarray:
        """Each variant's own best CCF per sample (grid indices), at its best multiplicity."""
        own = L.max(axis=-1).sum(axis=-1) + self.mult.log_prior
        best = self.mult.segment_argmax(own)
        return L[best].argmax(axis=-1)  # (N, D)

    def kmeanspp(self, points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        x = self.grid[points]
        n = x.shape[0]
        centres = [int(rng.integers(n))]
        d2 = ((x - x[centres[0]]) ** 2).sum(axis=1)
        while len(centres) < k:
            total = d2.sum()
            nxt = int(rng.integers(n)) if total <= 0 else int(rng.choice(n, p=d2 / total))
            centres.append(nxt)
            d2 = np.minimum(d2, ((x - x[nxt]) ** 2).sum(axis=1))
        return points[centres].copy()

    def split_start(self, previous: MixtureFit, L: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Add a cluster at the variant worst explained by the previous fit."""
        lk = self.mult.segment_logsumexp(self._cluster_loglik(L, previous.grid_index))
        ll_n = logsumexp(lk + previous.log_weights[None, :], axis=1)
        worst = int(np.argmax(self.own_loglik(L) - ll_n))
        return np.vstack([previous.grid_index, points[worst][None, :]])


def fit_clusters(data: MutationData, settings: ClusterSettings | None = None) -> ClusterResult:
    """Cluster the variants of ``data`` (one patient or one PyClone input) by their trajectories."""
    from threadpoolctl import threadpool_limits

    # The products are small: BLAS threads only contend for the cores (and spin) without gain.
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_clusters(data, settings)


def _fit_clusters(data: MutationData, settings: ClusterSettings | None) -> ClusterResult:
    settings = settings or ClusterSettings()
    N = len(data.mutation_ids)
    if N == 0:
        raise ValueError("no variants to cluster")
    model = _Model(data, settings)
    auto = isinstance(settings.precision, str)
    precision = 1000.0 if auto else float(settings.precision)
    k_max = max(1, min(settings.max_clusters, N))
    rows = []
    best: MixtureFit | None = None
    best_bic = np.inf
    previous: MixtureFit | None = None
    since_best = 0
    for k in range(1, k_max + 1):
        fit = _fit_k(model, k, precision, previous, settings)
        if auto:
            fit = _refine_precision(model, fit)
            precision = fit.precision
        bic = model.bic(fit, auto)
        rows.append({"k": k, "precision": fit.precision, "loglik": fit.loglik,
                     "n_parameters": model.n_parameters(fit, auto), "bic": bic})
        previous = fit
        if bic < best_bic - 1e-9:
            best, best_bic, since_best = fit, bic, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    assert best is not None
    selection = pd.DataFrame(rows)
    selection["chosen"] = selection["k"] == best.k
    fit, dissolved = _dissolve_tiny(model, _drop_empty(model, best))
    if dissolved.any():
        selection["dissolved_variants"] = np.where(selection["chosen"], int(dissolved.sum()), 0)
    result = _summarise(model, fit, selection, auto)
    for n in np.flatnonzero(dissolved):
        result.flags[n] = ";".join(f for f in ["outlier", result.flags[n]] if f)
    if dissolved.any():
        result.notes.append(f"{int(dissolved.sum())} variant(s) in clusters holding under "
                            f"{settings.min_cluster_fraction:.0%} of the variants were treated as "
                            "outliers and reassigned to the nearest cluster (flag outlier)")
    return result


def _fit_k(model: _Model, k: int, precision: float, previous: MixtureFit | None,
           settings: ClusterSettings) -> MixtureFit:
    L = model.table(precision)
    points = model.variant_points(L)
    starts = []
    if previous is not None:
        starts.append(model.split_start(previous, L, points))
    n_random = max(settings.restarts - len(starts), 1 if not starts else 0)
    for r in range(n_random):
        rng = np.random.default_rng([settings.seed, k, r])
        starts.append(model.kmeanspp(points, k, rng))
    fits = [model.em(L, s, precision) for s in starts]
    return max(fits, key=lambda f: f.loglik)


def _refine_precision(model: _Model, fit: MixtureFit, rounds: int = 3) -> MixtureFit:
    """Alternate: precision by maximum likelihood over the ladder given the clusters, then EM."""
    for _ in range(rounds):
        scores = [model.loglik_at(fit, s) for s in PRECISION_LADDER]
        s_best = PRECISION_LADDER[int(np.argmax(scores))]
        if s_best == fit.precision:
            break
        refit = model.em(model.table(s_best), fit.grid_index, s_best, fit.log_weights)
        fit = refit
    return fit


def _dissolve_tiny(model: _Model, fit: MixtureFit) -> tuple[MixtureFit, np.ndarray]:
    """Clusters holding fewer than ceil(min_cluster_fraction x N) variants are artefacts in large
    inputs (variants whose trajectory matches no clone, e.g. a site shared by two genomes):
    remove them and refit; their variants go to the nearest remaining cluster. With panel-sized
    inputs the threshold is <= 1 variant and nothing is dissolved (a resistance clone may be one
    hotspot)."""
    n = fit.resp.shape[0]
    threshold = int(np.ceil(model.settings.min_cluster_fraction * n))
    labels = fit.resp.argmax(axis=1)
    sizes = np.bincount(labels, minlength=fit.k)
    keep = np.flatnonzero(sizes >= threshold)
    if threshold <= 1 or keep.size == fit.k or keep.size == 0:
        return fit, np.zeros(n, dtype=bool)
    dissolved = sizes[labels] < threshold
    refit = model.em(model.table(fit.precision), fit.grid_index[keep], fit.precision)
    return refit, dissolved


def _drop_empty(model: _Model, fit: MixtureFit) -> MixtureFit:
    """Remove clusters that no variant is assigned to and refit from the rest."""
    used = np.unique(fit.resp.argmax(axis=1))
    if used.size == fit.k:
        return fit
    L = model.table(fit.precision)
    return model.em(L, fit.grid_index[used], fit.precision)


def _summarise(model: _Model, fit: MixtureFit, selection: pd.DataFrame,
               fitted_precision: bool) -> ClusterResult:
    data, settings, grid = model.data, model.settings, model.grid
    L = model.table(fit.precision)
    N, D = len(data.mutation_ids), L.shape[1]
    mean, mode, lower, upper, std = grid_summary(fit.suff, grid, settings.level)
    informative = model.informative
    # Order clusters by decreasing mean prevalence over informative samples (0 = likely trunk).
    score = mean[:, informative].mean(axis=1) if informative.any() else mean.mean(axis=1)
    order = np.argsort(-score, kind="stable")
    resp = fit.resp[:, order]
    labels = resp.argmax(axis=1)
    probability = resp[np.arange(N), labels]
    v = model.mult.variant
    mult_post = fit.mult_post[:, order]
    pair_best = model.mult.segment_argmax(mult_post[np.arange(v.size), labels[v]])
    multiplicity = model.mult.m[pair_best].astype(int)
    sizes = np.bincount(labels, minlength=order.size)
    grid_index = fit.grid_index[order]
    # Outliers: deviance of each variant against its own best trajectory.
    lk = model.mult.segment_logsumexp(model._cluster_loglik(L, grid_index))
    ll_assigned = lk[np.arange(N), labels]
    deviance = np.maximum(2.0 * (model.own_loglik(L) - ll_assigned), 0.0)
    df = np.maximum(((data.depth > 0) & (data.tumour_content > 1e-6)).sum(axis=1), 1)
    p_fit = chi2.sf(deviance, df)
    flags = []
    for n in range(N):
        f = []
        if p_fit[n] < settings.outlier_p:
            f.append("poor_fit")
        if sizes[labels[n]] < settings.min_cluster_size:
            f.append("small_cluster")
        flags.append(";".join(f))
    notes = []
    if not np.isfinite(fit.precision):
        notes.append("binomial counts (no overdispersion found)")
    else:
        notes.append(f"beta-binomial precision {fit.precision:g}"
                     + (" (maximum likelihood)" if fitted_precision else " (fixed)"))
    return ClusterResult(
        labels=labels, probability=probability, multiplicity=multiplicity,
        prevalence=mean[order], prevalence_lower=lower[order], prevalence_upper=upper[order],
        prevalence_std=std[order], prevalence_mode=mode[order], informative=informative,
        sizes=sizes, flags=flags,
        precision=fit.precision, loglik=fit.loglik, selection=selection, notes=notes,
    )
