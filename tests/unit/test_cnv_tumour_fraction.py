"""The tumour-fraction HMM on copy ratios built in code from a known tumour profile and TF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.tumour_fraction import (
    DetectionSettings,
    HmmSettings,
    calibrate,
    expected_log2,
    fit_tumour_fraction,
)

BIN = 1_000_000


def tumour_profile(n_chrom: int = 12, per: int = 80, focal_amp: int | None = None) -> np.ndarray:
    """Tumour copy numbers per bin: arm gains and losses on some chromosomes, one CN 4 region,
    and optionally a 4-bin focal amplification at ``focal_amp`` copies."""
    cn = []
    for c in range(n_chrom):
        row = np.full(per, 2)
        if c % 3 == 0:
            row[per // 2:] = 3
        if c % 4 == 1:
            row[: per // 2] = 1
        if c == 5:
            row[10:30] = 4
        if focal_amp and c == 7:
            row[50:54] = focal_amp
        cn.append(row)
    return np.concatenate(cn)


def bins_from(cn: np.ndarray, tf: float, sigma: float, seed: int, n_chrom: int = 12,
              classes: np.ndarray | None = None) -> pd.DataFrame:
    """Bins whose log2 ratios follow the model's expectation plus t-distributed noise, median
    centred as CNVkit does. ``sigma`` may be an array (one value per bin)."""
    rng = np.random.default_rng(seed)
    ploidy = cn[cn <= 5].mean()
    mu = np.log2((2 * (1 - tf) + cn * tf) / (2 * (1 - tf) + ploidy * tf))
    y = mu + rng.standard_t(8, size=len(cn)) * sigma
    y -= np.median(y)
    per = len(cn) // n_chrom
    start = np.tile(np.arange(per) * BIN, n_chrom)
    table = pd.DataFrame({
        "chromosome": np.repeat([f"chr{i + 1}" for i in range(n_chrom)], per),
        "start": start, "end": start + BIN, "log2": y,
    })
    if classes is not None:
        table["bin_class"] = classes
    return table


def test_expected_log2_matches_the_mixing_formula():
    copies = np.arange(6, dtype=float)
    mu = expected_log2(0.3, 2.0, copies)
    assert mu[2] == pytest.approx(0.0)
    # one extra copy in 30% of the cells: (0.7 * 2 + 0.3 * 3) / 2 = 1.15
    assert mu[3] == pytest.approx(np.log2(1.15))
    # ploidy 3 moves every state down by log2(0.7 * 2 + 0.3 * 3) - 1
    assert expected_log2(0.3, 3.0, copies)[2] == pytest.approx(-np.log2(2.3 / 2))


@pytest.mark.parametrize("tf", [0.1, 0.2, 0.4])
def test_tumour_fraction_recovered_within_0_02(tf):
    cn = tumour_profile()
    fit = fit_tumour_fraction(bins_from(cn, tf, sigma=0.07, seed=3))
    assert fit.tumour_fraction == pytest.approx(tf, abs=0.02)
    assert fit.tf_lower <= tf + 0.01 and fit.tf_upper >= tf - 0.01
    assert fit.ploidy == pytest.approx(cn.mean(), abs=0.15)
    assert fit.llr > 50
    # the Viterbi path finds the arm-level changes: >= 90% of bins in the right state
    assert (fit.states["state"].to_numpy() == cn).mean() >= 0.9


def test_tumour_free_sample_is_low_and_interval_reaches_zero():
    cn = np.full(12 * 80, 2)
    fit = fit_tumour_fraction(bins_from(cn, 0.0, sigma=0.07, seed=4))
    assert fit.tumour_fraction < 0.03
    assert fit.tf_lower == 0.0
    assert fit.llr < DetectionSettings().min_llr
    assert not DetectionSettings().detected(fit.llr, fit.altered_fraction)


def test_focal_amplification_does_not_inflate_tf():
    # At TF 0.1 a 20-copy focal amplification has log2 ~0.78; copy number 5 would need TF ~0.6
    # to explain it. The amplification state must take those bins instead.
    cn = tumour_profile(focal_amp=20)
    fit = fit_tumour_fraction(bins_from(cn, 0.1, sigma=0.07, seed=5))
    assert fit.tumour_fraction == pytest.approx(0.1, abs=0.02)
    amp_bins = fit.states.loc[fit.states["amp"]]
    assert len(amp_bins) == 4
    assert set(amp_bins["chromosome"]) == {"chr8"}


def test_same_input_same_answer():
    bins = bins_from(tumour_profile(), 0.15, sigma=0.08, seed=6)
    a = fit_tumour_fraction(bins)
    b = fit_tumour_fraction(bins.sample(frac=1.0, random_state=1))  # row order must not matter
    assert a.tumour_fraction == b.tumour_fraction
    assert (a.tf_lower, a.tf_upper, a.ploidy) == (b.tf_lower, b.tf_upper, b.ploidy)


def test_noise_scale_per_bin_class():
    cn = tumour_profile()
    classes = np.where(np.arange(len(cn)) % 2 == 0, "target", "antitarget")
    sigma = np.where(classes == "target", 0.03, 0.12)
    fit = fit_tumour_fraction(bins_from(cn, 0.3, sigma=sigma, seed=7, classes=classes))
    # t(8) noise times sigma; the fitted Student-t(4) scale is a little below the SD
    assert fit.scales["target"] == pytest.approx(0.03, rel=0.25)
    assert fit.scales["antitarget"] == pytest.approx(0.12, rel=0.25)
    assert fit.tumour_fraction == pytest.approx(0.3, abs=0.02)


def test_settings_from_config_rejects_unknown_keys():
    s = HmmSettings.from_config({"max_copy": 6, "tf_starts": [0.1, 0.3]})
    assert s.max_copy == 6 and s.tf_starts == (0.1, 0.3)
    with pytest.raises(Exception, match="unknown keys"):
        HmmSettings.from_config({"max_cn": 6})


def test_calibration_puts_every_normal_below_threshold():
    floor = DetectionSettings(min_llr=5.0, min_altered_fraction=0.01)
    normals = [(2.0, 0.0), (8.0, 0.12), (3.5, 0.01)]
    th = calibrate([llr for llr, _ in normals], floor, margin=1.5)
    assert th.min_llr == pytest.approx(12.0)
    assert th.min_altered_fraction == pytest.approx(0.01)
    assert not any(th.detected(llr, alt) for llr, alt in normals)
    assert th.detected(12.5, 0.05) and not th.detected(12.5, 0.005)
    # without normals the floor stays and says so
    assert calibrate([], floor).min_llr == 5.0
    assert "no tumour-free" in calibrate([], floor).source
