"""The resolvable CCF difference (plasmatrack.clonal.resolution): its mixture-gain approximation,
its calibration against the stage's own EM on drawn counts, and how it moves with depth, tumour
fraction and overdispersion."""

from __future__ import annotations

import numpy as np
import pytest

from plasmatrack.clonal.ccf import BINOMIAL, MutationData
from plasmatrack.clonal.resolution import (mixture_gain, resolution_label,
                                           resolvable_ccf_difference)
from plasmatrack.clonal.synthetic import truth_partition_gain


def two_clones(rng, n: int, tcs, depth: int, ccf_a: float, ccf_b: float) -> MutationData:
    """n heterozygous diploid SNVs, the first half at ccf_a and the rest at ccf_b in every
    draw, binomial counts at ``depth``."""
    tcs = np.asarray(tcs, dtype=float)
    d = tcs.size
    tc = np.tile(tcs, (n, 1))
    ccf = np.where(np.arange(n)[:, None] < n // 2, ccf_a, ccf_b) * np.ones((n, d))
    alt = rng.binomial(depth, tc * ccf / 2.0).astype(float)
    ones = np.ones((n, d))
    return MutationData([f"m{i}" for i in range(n)], [f"s{j}" for j in range(d)],
                        depth - alt, alt, tc, 2 * ones, ones, 2 * ones, 0 * ones)


def test_mixture_gain_limits():
    small = np.array([0.05, 0.1, 0.2])
    assert mixture_gain(small) == pytest.approx(small ** 4 / 64, rel=0.02)
    large = np.array([12.0, 20.0])
    assert mixture_gain(large) == pytest.approx(large ** 2 / 8 - np.log(2), rel=1e-3)
    s = np.linspace(0.1, 10, 50)
    assert np.all(np.diff(mixture_gain(s)) > 0)


@pytest.mark.parametrize("n, tcs", [(20, [0.05, 0.05, 0.05]), (10, [0.02, 0.01, 0.03]),
                                    (12, [0.3, 0.2, 0.4]), (10, [0.05, 0.003, 0.002])])
def test_resolvable_difference_is_where_the_true_split_starts_to_pay(n, tcs):
    """Trunk at CCF 1, a subclone at 1 - f x delta, 100 draws of the counts each: at half the
    resolvable difference the true split almost never pays BIC's price (EM started at the truth,
    the stage's own likelihood), at the difference it mostly does, at 1.5x nearly always."""
    rng = np.random.default_rng(7)
    template = two_clones(rng, n, tcs, 800, 1.0, 1.0)
    delta = resolvable_ccf_difference(template, np.ones(len(tcs), bool), BINOMIAL)
    assert 0.05 < delta < 1.0
    labels = (np.arange(n) < n // 2).astype(int)
    pays = {}
    for f in (0.5, 1.0, 1.5):
        wins = []
        for _ in range(100):
            data = two_clones(rng, n, tcs, 800, 1.0, max(0.0, 1.0 - f * delta))
            g = truth_partition_gain(data, labels, precision=BINOMIAL)
            wins.append(g["gain"] > g["price"])
        pays[f] = np.mean(wins)
    assert pays[0.5] <= 0.15
    assert 0.4 <= pays[1.0] <= 0.95
    assert pays[1.5] >= 0.95


def test_resolvable_difference_moves_with_depth_tumour_fraction_and_overdispersion():
    rng = np.random.default_rng(1)
    base = two_clones(rng, 12, [0.05, 0.05, 0.05], 800, 1.0, 1.0)
    inf = np.ones(3, bool)
    d800 = resolvable_ccf_difference(base, inf)
    deep = two_clones(rng, 12, [0.05, 0.05, 0.05], 3200, 1.0, 1.0)
    high = two_clones(rng, 12, [0.2, 0.2, 0.2], 800, 1.0, 1.0)
    assert resolvable_ccf_difference(deep, inf) < d800
    assert resolvable_ccf_difference(high, inf) < d800
    # overdispersed counts carry less information
    assert resolvable_ccf_difference(base, inf, precision=200.0) > d800
    # a lighter criterion (AIC's 2 per parameter < log 12) resolves finer
    assert resolvable_ccf_difference(base, inf, criterion="aic") < d800
    # nothing to resolve
    assert resolvable_ccf_difference(base, np.zeros(3, bool)) == float("inf")
    one = two_clones(rng, 1, [0.3, 0.3, 0.3], 800, 1.0, 1.0)
    assert resolvable_ccf_difference(one, inf) == float("inf")
    # at TF 0.001 no CCF difference is enough
    faint = two_clones(rng, 6, [0.001, 0.001, 0.001], 300, 1.0, 1.0)
    assert resolvable_ccf_difference(faint, inf) == float("inf")
    assert resolution_label(0.3) == "resolved" and resolution_label(0.7) == "limited"
    assert resolution_label(float("inf")) == "limited"


def test_limited_note_without_a_finite_difference():
    """TF 0.001 everywhere: no CCF difference suffices, and the note says so in words."""
    from plasmatrack.clonal.cluster import ClusterSettings, fit_clusters
    from plasmatrack.clonal.pipeline import patient_resolution

    data = two_clones(np.random.default_rng(2), 6, [0.001, 0.001, 0.001], 300, 1.0, 1.0)
    result = fit_clusters(data, ClusterSettings())
    delta, label, note = patient_resolution(data, result, ClusterSettings())
    assert delta == float("inf") and label == "limited"
    assert "no CCF difference can be told apart" in note and "inf" not in note
