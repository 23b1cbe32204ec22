"""VAF intervals, the beta-binomial presence test, its power, and threshold calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from plasmatrack.stats.binomial import wilson_interval
from plasmatrack.variants.background import BackgroundSettings, calibrate_threshold
from plasmatrack.variants.stats import (detection_power, fisher_strand_p, min_detectable_alt,
                                        presence_p_value)


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    alt = np.array([0, 1, 5, 50, 100, 7])
    depth = np.array([10, 1000, 100, 100, 100, 0])
    lower, upper = wilson_interval(alt, depth)
    ok = depth > 0
    ref_lo, ref_hi = proportion_confint(alt[ok], depth[ok], alpha=0.05, method="wilson")
    np.testing.assert_allclose(lower[ok], ref_lo, atol=1e-12)
    np.testing.assert_allclose(upper[ok], ref_hi, atol=1e-12)
    assert np.isnan(lower[-1]) and np.isnan(upper[-1])
    assert lower[0] == 0.0 and upper[4] == 1.0


def test_wilson_coverage_is_close_to_95_percent():
    rng = np.random.default_rng(0)
    depth = 800
    for p in (0.003, 0.02, 0.2):
        alt = rng.binomial(depth, p, size=4000)
        lower, upper = wilson_interval(alt, np.full(alt.shape, depth))
        coverage = np.mean((lower <= p) & (p <= upper))
        assert 0.93 <= coverage <= 0.975, (p, coverage)


def test_presence_p_value_is_the_beta_binomial_upper_tail():
    a, b = 2.0, 19998.0
    p = presence_p_value(np.array([0, 1, 4, 12]), np.array([1000] * 4), a, b)
    expected = [1.0] + [stats.betabinom.sf(k - 1, 1000, a, b) for k in (1, 4)]
    np.testing.assert_allclose(p[:3], expected, rtol=1e-10)
    # Far in the tail scipy's sf (1 - cdf) underflows to 0; the summed tail is exact.
    exact = stats.betabinom.pmf(np.arange(12, 1001), 1000, a, b).sum()
    assert 0 < exact < 1e-12
    assert p[3] == pytest.approx(exact, rel=1e-9)
    assert presence_p_value(np.array([3]), np.array([0]), a, b)[0] == 1.0


def test_min_detectable_alt_is_the_first_significant_count():
    a, b = 1.0, 9999.0
    depths = np.array([100, 500, 1000, 3000, 10000])
    k = min_detectable_alt(depths, a, b, 1e-3)
    for n, kk in zip(depths, k):
        assert stats.betabinom.sf(kk - 1, n, a, b) < 1e-3
        assert stats.betabinom.sf(kk - 2, n, a, b) >= 1e-3


def test_power_rises_with_depth_and_vaf():
    a, b = 1.0, 9999.0
    power = detection_power(np.array([100, 500, 2000]), 0.01, 1e-4, a, b, 1e-3)
    assert power[0] < power[1] < power[2]
    assert power[2] > 0.999
    # Simulated detection rate agrees with the analytic power.
    rng = np.random.default_rng(1)
    n = 500
    alt = rng.binomial(n, 0.01 + 0.99 * 1e-4, size=20000)
    empirical = np.mean(presence_p_value(alt, np.full(alt.shape, n), a, b) < 1e-3)
    assert empirical == pytest.approx(power[1], abs=0.01)
    assert detection_power(np.array([0]), 0.5, 1e-4, a, b, 1e-3)[0] == 0.0


def test_calibrated_threshold_keeps_95_percent_of_controls_negative():
    params = BackgroundSettings(max_p_value=0.01, control_specificity=0.95)
    rng = np.random.default_rng(2)
    # Well-calibrated controls: the nominal threshold stands.
    uniform = rng.uniform(size=5000)
    t = calibrate_threshold(uniform, params)
    assert t["threshold"] == 0.01
    # Anti-conservative controls (an overdispersed background): the threshold is lowered to
    # the 5% quantile, so that >= 95% of controls test negative.
    skewed = rng.uniform(size=5000) ** 4
    t = calibrate_threshold(skewed, params)
    assert t["threshold"] < 0.01
    assert np.mean(skewed < t["threshold"]) <= 0.05
    assert t["control_fraction_negative"] >= 0.95
    assert np.mean(skewed < t["threshold"]) > 0.045  # and not much stricter than needed


def test_fisher_strand_p():
    assert fisher_strand_p(500, 500, 20, 0) < 1e-5
    assert fisher_strand_p(500, 500, 10, 10) > 0.5
    assert fisher_strand_p(0, 0, 5, 5) == 1.0
