"""How finely can a patient's counts separate clones? The smallest resolvable CCF difference.

A one-cluster answer means either "one clone" or "the counts cannot tell the clones apart"; at
TF 0.02 and 800x a truncal heterozygous SNV shows ~8 mutant fragments and a subclone at CCF 0.5
~4, so the second is the usual reason. The stage says which, from the counts' Fisher
information and the model-selection criterion that decides the number of clusters:

* a variant ``n`` in draw ``d`` informs its CCF with ``I_nd = (dVAF/dCCF)^2 / Var(VAF)``, where
  ``dVAF/dCCF = t_d / copies_nd`` (one mutant copy: the conservative case) and
  ``Var(VAF) = p (1 - p) / depth_nd x (1 + (depth_nd - 1) / (precision + 1))`` (beta-binomial, at
  the VAF ``p`` of a clonal variant);
* split the variants into two equal halves (the trunk at CCF 1 and a subclone) whose CCFs differ
  by ``delta`` in every informative draw: variant ``n`` then sits ``z_n = delta sqrt(I_n)``
  standard deviations from the other half (``I_n`` summed over draws), and the expected
  log-likelihood gain of the two-cluster mixture over one cluster is ``sum_n g(z_n)``, with
  ``g`` the gain per observation of an equal two-component Gaussian mixture (``mixture_gain``):
  about ``z^4 / 64`` while a variant alone cannot be told from either half, ``z^2 / 8 - log 2``
  once it can (with the labels known it would be ``z^2 / 8``; the mixture must find them);
* the criterion charges ``(D + 1)`` parameters for the second cluster (one CCF per informative
  draw and a weight) at ``c / 2`` nats each (BIC: ``c = log N``; AIC: 2; times ``penalty``);
* the ``delta`` at which the gain meets that price is the patient's **resolvable CCF
  difference** (bisection). Clones whose prevalences differ by less in every draw cannot be told
  apart, whatever the search.

It is an expected, not an observed, figure: it uses only the depths, tumour contents, copy
numbers and the fitted precision, never the alternate counts. Its calibration against the
stage's own EM (tests/unit/test_clonal_resolution.py) and the ARI it separates on simulated
cohorts are in docs/clonal.md."""

from __future__ import annotations

import numpy as np

from .ccf import BINOMIAL, MutationData

# A patient whose resolvable CCF difference is above this is reported as "limited": its counts
# cannot tell a subclone present in half of the cancer cells from the trunk.
LIMITED_ABOVE = 0.5

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)  # E over N(0, 1)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
MAX_DIFFERENCE = 4.0  # above this the answer is reported as inf (no CCF difference suffices)


def mixture_gain(s: np.ndarray) -> np.ndarray:
    """Expected log-likelihood gain per observation of an equal two-component mixture whose means
    are ``s`` standard deviations apart over one component at their midpoint (same variance):
    ``E[log cosh(s x / 2)] - s^2 / 8`` with ``x ~ N(s / 2, 1)``. About ``s^4 / 64`` for small ``s``
    (an observation that cannot be told from either component adds almost nothing) and
    ``s^2 / 8 - log 2`` for large ``s`` (each observation is classified)."""
    s = np.asarray(s, dtype=float)[..., None]
    y = np.abs(s * (s / 2.0 + _NODES) / 2.0)
    log_cosh = y + np.log1p(np.exp(-2.0 * y)) - np.log(2.0)
    return (log_cosh * _WEIGHTS).sum(axis=-1) - s[..., 0] ** 2 / 8.0


def variant_information(data: MutationData, informative: np.ndarray,
                        precision: float = BINOMIAL) -> np.ndarray:
    """Fisher information of each variant's CCF, summed over the informative draws: (N,)."""
    informative = np.asarray(informative, dtype=bool)
    t = data.tumour_content[:, informative]
    depth = data.depth[:, informative]
    copies = (1.0 - t) * data.normal_cn[:, informative] + t * data.tumour_cn[:, informative]
    copies = np.maximum(copies, 1e-9)
    err = data.error_rate[:, informative]
    p = np.clip(t / copies * (1.0 - err) + (1.0 - t / copies) * err, 1e-9, 1.0 - 1e-9)
    inflation = 1.0 if not np.isfinite(precision) else 1.0 + np.maximum(depth - 1.0, 0.0) / (
        precision + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        info = np.where(depth > 0, (t / copies) ** 2 * depth / (p * (1.0 - p) * inflation), 0.0)
    return info.sum(axis=1)


def split_price(n_variants: int, n_informative: int, criterion: str = "bic",
                penalty: float = 1.0) -> float:
    """Nats of log-likelihood a second cluster must gain to be accepted: half the criterion's
    charge for its D + 1 parameters."""
    per_parameter = 2.0 if criterion == "aic" else float(np.log(max(n_variants, 2)))
    return (n_informative + 1) * per_parameter * penalty / 2.0


def resolvable_ccf_difference(data: MutationData, informative: np.ndarray,
                              precision: float = BINOMIAL, criterion: str = "bic",
                              penalty: float = 1.0) -> float:
    """The smallest CCF difference (held in every informative draw) between two equal halves of
    the variants (the trunk at CCF 1 and a subclone) whose expected mixture log-likelihood gain
    pays the model-selection criterion's price for the second cluster; ``inf`` when no draw is
    informative, there are fewer than two variants, or no difference up to ``MAX_DIFFERENCE``
    suffices."""
    n_var = len(data.mutation_ids)
    informative = np.asarray(informative, dtype=bool)
    n_inf = int(informative.sum())
    if n_var < 2 or n_inf == 0:
        return float("inf")
    root_info = np.sqrt(variant_information(data, informative, precision))
    price = split_price(n_var, n_inf, criterion, penalty)

    def gain(delta: float) -> float:
        return float(mixture_gain(delta * root_info).sum())

    if gain(MAX_DIFFERENCE) < price:
        return float("inf")
    lo, hi = 0.0, MAX_DIFFERENCE
    for _ in range(50):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if gain(mid) < price else (lo, mid)
    return hi


def resolution_label(delta: float, limit: float = LIMITED_ABOVE) -> str:
    """"resolved" when clones differing by ``limit`` or less in CCF can be separated, else
    "limited"."""
    return "resolved" if delta <= limit else "limited"
