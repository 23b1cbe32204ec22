"""The clonal model on counts drawn in code from known clusters: CCF and multiplicity, the
beta-binomial mixture (clusters, K, precision, determinism, flags), against the truth it was
drawn from."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from plasmatrack.clonal.ccf import MutationData, expected_vaf, variant_ccf
from plasmatrack.clonal.cluster import ClusterSettings, fit_clusters

TF = np.array([0.30, 0.15, 0.40])  # baseline, on treatment, progression
TRUTH = np.array([  # clone CCF per draw: trunk, declining subclone, emerging resistance clone
    [1.0, 1.0, 1.0],
    [0.6, 0.3, 0.1],
    [0.0, 0.2, 0.7],
])


def draw(sizes=(6, 5, 2), depth=1000, precision=None, seed=0, cn=None, mult=None):
    """Counts for variants of the TRUTH clones (``sizes`` variants each)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    n = labels.size
    cn = np.full(n, 2.0) if cn is None else np.asarray(cn, float)
    mult = np.ones(n) if mult is None else np.asarray(mult, float)
    vaf = expected_vaf(TRUTH[labels], mult[:, None], TF[None, :], cn[:, None], 2.0, 1e-4)
    if precision is not None:
        vaf = rng.beta(vaf * precision, (1 - vaf) * precision)
    depth_arr = rng.poisson(depth, size=(n, 3))
    alt = rng.binomial(depth_arr, vaf)
    data = MutationData(
        [f"m{i:02d}" for i in range(n)], ["D1", "D2", "D3"], depth_arr - alt, alt,
        np.tile(TF, (n, 1)), np.tile(cn[:, None], (1, 3)),
        np.tile(np.maximum(np.ceil(cn / 2), mult)[:, None], (1, 3)), np.full((n, 3), 2.0),
        np.full((n, 3), 1e-4))
    return data, labels


def test_expected_vaf_is_the_mixing_formula():
    # VAF = t * ccf * m / (t * CN + 2 * (1 - t)) without errors (the simulator's definition)
    assert expected_vaf(0.5, 1, 0.3, 2.0) == pytest.approx(0.3 * 0.5 / 2.0)
    assert expected_vaf(1.0, 2, 0.4, 4.0) == pytest.approx(0.4 * 2 / (0.4 * 4 + 2 * 0.6))
    # no tumour: only sequencing errors
    assert expected_vaf(1.0, 1, 0.0, 2.0, 2.0, 1e-3) == pytest.approx(1e-3)


def test_mixture_recovers_three_clones_and_their_prevalences():
    data, labels = draw(sizes=(6, 5, 1))  # the resistance clone is one hotspot
    res = fit_clusters(data, ClusterSettings(seed=1))
    assert res.k == 3
    assert adjusted_rand_score(labels, res.labels) == 1.0
    # clusters are ordered by mean prevalence: trunk, subclone, resistance clone (truth order)
    np.testing.assert_allclose(res.prevalence, TRUTH, atol=0.1)  # the tolerance
    inside = (res.prevalence_lower - 0.011 <= TRUTH) & (TRUTH <= res.prevalence_upper + 0.011)
    assert inside.mean() >= 0.85  # 95% intervals (on a 0.01 grid) cover the truth
    assert (res.probability > 0.9).all()
    assert res.flags[-1] == "small_cluster" and res.flags[0] == ""


def test_same_seed_same_answer_and_no_randomness_leaks():
    data, _ = draw(seed=3)
    a = fit_clusters(data, ClusterSettings(seed=7))
    b = fit_clusters(data, ClusterSettings(seed=7))
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.prevalence, b.prevalence)
    assert a.selection.equals(b.selection)


def test_overdispersed_counts_get_a_finite_precision_and_are_not_oversplit():
    data, labels = draw(sizes=(12, 10, 6), depth=3000, precision=150, seed=5)
    res = fit_clusters(data, ClusterSettings(seed=1))
    assert 50 <= res.precision <= 500  # true precision 150; ladder 10 ... 1e5, inf
    assert res.k == 3
    assert adjusted_rand_score(labels, res.labels) >= 0.9
    # a binomial model on the same counts explains the scatter with extra clusters
    binom = fit_clusters(data, ClusterSettings(seed=1, precision=float("inf")))
    assert binom.k > res.k


def test_bic_prefers_one_cluster_for_one_clone():
    rng_data, _ = draw(sizes=(10,), seed=2)
    res = fit_clusters(rng_data, ClusterSettings(seed=1))
    assert res.k == 1
    np.testing.assert_allclose(res.prevalence[0], TRUTH[0], atol=0.05)


def test_multiplicity_two_on_a_gained_allele_reads_as_clonal():
    # trunk variants on a 4-copy segment with 2 mutant copies have VAF ~ 2x a one-copy variant
    cn = [4, 4, 4, 2, 2, 2, 2, 2]
    mult = [2, 2, 2, 1, 1, 1, 1, 1]
    data, _ = draw(sizes=(8,), depth=1500, cn=cn, mult=mult, seed=4)
    res = fit_clusters(data, ClusterSettings(seed=1))
    assert res.k == 1
    assert list(res.multiplicity) == mult
    table = variant_ccf(data)
    first = table[table["mutation_id"] == "m00"]
    assert (first["multiplicity"] == 2).all()
    assert first["ccf"].between(0.85, 1.0).all()
    # the 95% interval holds the truth in every draw, and the raw copy number is ~2 copies
    assert ((first["ccf_lower"] <= 1.0) & (first["ccf_upper"] >= 0.95)).all()
    assert first["mutation_copy_number"].between(1.6, 2.4).all()


def test_draw_without_tumour_carries_no_information():
    data, labels = draw(seed=6)
    data.tumour_content[:, 1] = 0.0  # e.g. TF not detected on treatment
    res = fit_clusters(data, ClusterSettings(seed=1))
    assert list(res.informative) == [True, False, True]
    assert adjusted_rand_score(labels, res.labels) == 1.0
    table = variant_ccf(data)
    assert table.loc[table["sample_id"] == "D2", "ccf"].isna().all()


def test_aberrant_variant_is_flagged_poor_fit():
    data, _ = draw(sizes=(8, 6), seed=8)
    # a variant that fits no clone: 25% VAF at baseline, nothing later (an artefact)
    data.alt[0] = [250, 0, 0]
    data.ref[0] = [750, 1000, 1000]
    res = fit_clusters(data, ClusterSettings(seed=1, max_clusters=2))
    assert "poor_fit" in res.flags[0]
    assert sum("poor_fit" in f for f in res.flags) == 1


def test_truth_partition_gain_tells_a_data_limit_from_a_search_failure():
    from plasmatrack.clonal.synthetic import truth_partition_gain

    # plenty of reads: the true split of trunk and subclone pays BIC's price many times over,
    # and the fit finds it
    data, labels = draw(sizes=(6, 5), depth=1000)
    deep = truth_partition_gain(data, labels)
    assert deep["n_variants"] == 11 and deep["n_clones"] == 2
    assert deep["gain"] > 10 * deep["price"]
    assert fit_clusters(data, ClusterSettings(seed=1)).k == 2
    # a handful of reads per variant: the true split gains less than its price (4 parameters x
    # log 11 / 2 = 4.80 nats), so one cluster is BIC's right answer, not a search failure
    data, labels = draw(sizes=(6, 5), depth=8)
    shallow = truth_partition_gain(data, labels)
    assert shallow["price"] == pytest.approx(2 * np.log(11), abs=1e-9)
    assert shallow["gain"] < shallow["price"]
    assert fit_clusters(data, ClusterSettings(seed=1)).k == 1
