"""Per-bin noise of the tumour-fraction HMM: variance a / n + b from the bins' read counts."""

from __future__ import annotations

import numpy as np
import pytest

from plasmatrack.cnv.tumour_fraction import count_noise


def _bins(rng, a, b, n_bins=400, step=None):
    counts = rng.choice([40.0, 120.0, 400.0, 1200.0], n_bins)
    sd = np.sqrt(a / counts + b)
    y = rng.normal(0, sd)
    if step is not None:  # a copy-number step that the first differences should not mistake
        y[n_bins // 2:] += step
    chrom = np.repeat(["c1", "c2"], n_bins // 2)
    return y, counts, chrom, sd


@pytest.mark.parametrize("a,b", [(2.0, 0.004), (2.0, 0.0), (0.5, 0.01)])
def test_relative_noise_follows_counts_and_the_constant_term(a, b):
    errors = []
    for seed in range(5):
        y, counts, chrom, sd = _bins(np.random.default_rng(seed), a, b, step=0.4)
        rel = count_noise(y, counts, chrom)
        truth = sd / np.median(sd)
        errors.append(np.median(np.abs(rel / truth - 1)))
    assert np.mean(errors) < 0.15


def test_equal_counts_give_equal_noise_and_too_few_bins_give_ones():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.1, 100)
    rel = count_noise(y, np.full(100, 500.0), np.repeat("c1", 100))
    assert np.allclose(rel, 1.0)
    assert np.allclose(count_noise(y[:10], np.full(10, 500.0), np.repeat("c1", 10)), 1.0)
