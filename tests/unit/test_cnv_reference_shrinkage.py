"""Empirical-Bayes shrinkage of a raw-pooled panel of normals (plasmatrack.cnv.reference)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.reference import shrink_reference

N_TARGETS, N_ANTI = 400, 600
TARGET_BIAS_SD = 0.30  # capture efficiency: shared by every sample, the reference must keep it
NOISE_SD = 0.12  # one member's sampling noise per bin


def _bins(rng) -> pd.DataFrame:
    starts = np.arange(N_TARGETS + N_ANTI) * 10_000
    length = np.where(np.arange(N_TARGETS + N_ANTI) < N_TARGETS,
                      rng.integers(120, 400, N_TARGETS + N_ANTI), 9_000)
    return pd.DataFrame({
        "chromosome": "chr1", "start": starts, "end": starts + length,
        "gene": ["G%d" % (i // 4) for i in range(N_TARGETS)] + ["Antitarget"] * N_ANTI,
        "gc": rng.uniform(0.35, 0.6, N_TARGETS + N_ANTI),
    })


def _write_member(bins: pd.DataFrame, log2: np.ndarray, path_t, path_a) -> None:
    table = bins[["chromosome", "start", "end", "gene"]].assign(depth=2.0 ** log2, log2=log2)
    on = table["gene"] != "Antitarget"
    table[on].to_csv(path_t, sep="\t", index=False)
    table[~on].to_csv(path_a, sep="\t", index=False)


def _panel(tmp_path, n_members: int, seed: int = 1):
    from cnvlib.cnary import CopyNumArray

    rng = np.random.default_rng(seed)
    bins = _bins(rng)
    on = (bins["gene"] != "Antitarget").to_numpy()
    bias = np.where(on, rng.normal(0, TARGET_BIAS_SD, len(bins)), 0.0)
    gc_curve = -4.0 * (bins["gc"].to_numpy() - 0.47) ** 2
    files_t, files_a, members = [], [], []
    for m in range(n_members):
        # each member has its own GC curve, as cfDNA and buffy-coat DNA do
        log2 = 6.0 + bias + (1.0 + 0.3 * m) * gc_curve + rng.normal(0, NOISE_SD, len(bins))
        t, a = tmp_path / f"N{m}.targetcoverage.cnn", tmp_path / f"N{m}.antitargetcoverage.cnn"
        _write_member(bins, log2, t, a)
        files_t.append(str(t))
        files_a.append(str(a))
        members.append(log2)
    pooled = np.mean(members, axis=0)
    pooled = pooled - np.median(pooled)
    ref = CopyNumArray(bins.assign(log2=pooled, depth=1.0, spread=0.1),
                       meta_dict={"sample_id": "reference"})
    return ref, files_t, files_a, bias, on


def _deviation_error(ref, bias, on, mask):
    """SD of (reference - true bias) over a bin class, each centred."""
    err = ref.data["log2"].to_numpy(float)[mask] - bias[mask]
    return float(np.std(err - np.median(err)))


@pytest.mark.parametrize("n_members", [2, 5])
def test_shrinkage_factor_matches_bias_and_noise(tmp_path, n_members):
    ref, files_t, files_a, bias, on = _panel(tmp_path, n_members)
    rows = {r["bin_class"]: r for r in shrink_reference(ref, files_t, files_a)}
    # member noise measured from the members' spread (true 0.12)
    for cls in ("target", "antitarget"):
        assert rows[cls]["member_noise_var"] ** 0.5 == pytest.approx(NOISE_SD, rel=0.15)
    expected = TARGET_BIAS_SD ** 2 / (TARGET_BIAS_SD ** 2 + NOISE_SD ** 2 / n_members)
    assert rows["target"]["factor"] == pytest.approx(expected, abs=0.05)
    # off-target bins have no true bias: their deviations are noise and go (almost) entirely
    assert rows["antitarget"]["factor"] < 0.2


def test_shrunk_reference_is_closer_to_the_true_bias(tmp_path):
    ref, files_t, files_a, bias, on = _panel(tmp_path, 2, seed=3)
    raw = ref.copy()
    shrink_reference(ref, files_t, files_a)
    # off-target: the shared error a sample inherits falls from the pool's noise (0.12 / sqrt 2
    # = 0.085) to the GC-curve fit error only
    before = _deviation_error(raw, bias, on, ~on)
    after = _deviation_error(ref, bias, on, ~on)
    assert before == pytest.approx(NOISE_SD / np.sqrt(2), rel=0.15)
    assert after < 0.5 * before
    # targets keep their capture biases (a flat target reference would be off by 0.3)
    assert _deviation_error(ref, bias, on, on) < 1.1 * _deviation_error(raw, bias, on, on)
    assert _deviation_error(ref, bias, on, on) < 0.1


def test_one_member_or_a_leave_one_out_panel(tmp_path):
    ref, files_t, files_a, bias, on = _panel(tmp_path, 2, seed=5)
    one = ref.copy()
    # one member alone: its noise cannot be measured, nothing changes
    assert shrink_reference(one, files_t[:1], files_a[:1]) == []
    assert np.array_equal(one.data["log2"].to_numpy(), ref.data["log2"].to_numpy())
    # a one-member (leave-one-out) reference with the noise measured on the whole panel
    rows = {r["bin_class"]: r for r in shrink_reference(one, files_t, files_a, n_pooled=1)}
    assert rows["antitarget"]["n_pooled"] == 1
    assert rows["antitarget"]["factor"] < 0.2


def test_sex_chromosomes_are_left_as_pooled(tmp_path):
    ref, files_t, files_a, bias, on = _panel(tmp_path, 3, seed=7)
    chrx = np.zeros(len(ref), bool)
    chrx[-100:] = True  # the last 100 off-target bins: chrX of a male panel, one copy
    ref.data.loc[chrx, "chromosome"] = "chrX"
    ref.data.loc[chrx, "log2"] -= 1.0
    before = ref.data["log2"].to_numpy(float).copy()
    rows = {r["bin_class"]: r for r in shrink_reference(ref, files_t, files_a)}
    after = ref.data["log2"].to_numpy(float)
    assert np.array_equal(after[chrx], before[chrx])
    assert rows["antitarget"]["bins"] == N_ANTI - 100
    assert not np.allclose(after[~on & ~chrx], before[~on & ~chrx])
