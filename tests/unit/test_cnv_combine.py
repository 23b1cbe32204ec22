"""The combined tumour fraction (cnv/combine.py): estimate, interval, disagreement, detection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.combine import (Evidence, baf_p_value, cn_null_mean, cn_p_value, combine,
                                     combine_draws, sidak)
from plasmatrack.variants.stats import pooled_background_p_value

NAN = math.nan


def _ev(method, value, se, p=1e-6):
    return Evidence(method, value, value - 1.96 * se, value + 1.96 * se, p)


def test_agreeing_methods_pool_by_precision_and_narrow_the_interval():
    # 0.10 +/- 0.02 and 0.115 +/- 0.01 agree (Cochran's Q 0.45 < 1): no between-method variance.
    cn, snv = _ev("cn", 0.10, 0.02), _ev("snv", 0.115, 0.01)
    out = combine([cn, snv])
    w = np.array([1 / 0.02 ** 2, 1 / 0.01 ** 2])
    assert out.value == pytest.approx((w * [0.10, 0.115]).sum() / w.sum(), abs=5e-4)
    half = (out.upper - out.lower) / 2
    assert half == pytest.approx(1.96 / math.sqrt(w.sum()), rel=0.02)
    assert out.tau == 0.0 and out.warning == "" and out.methods == ("cn", "snv")


def test_disagreeing_methods_widen_and_warn():
    cn, snv = _ev("cn", 0.12, 0.01), _ev("snv", 0.30, 0.015)
    out = combine([cn, snv])
    assert "disagree beyond their intervals" in out.warning
    assert "cn 0.120" in out.warning and "snv 0.300" in out.warning
    assert out.tau > 0.1
    # Neither method dominates: the estimate sits between them and the interval holds both.
    assert 0.15 < out.value < 0.27
    assert out.lower < 0.12 and out.upper > 0.30


def test_a_method_without_an_estimate_still_tests_and_others_estimate():
    baf = Evidence("baf", NAN, NAN, NAN, NAN)
    out = combine([_ev("cn", 0.05, 0.01, p=0.2), _ev("snv", 0.06, 0.01, p=1e-5), baf])
    assert out.methods == ("cn", "snv")
    assert out.p_value == pytest.approx(sidak([0.2, 1e-5]))
    assert combine([baf]).methods == ()


def test_sidak_and_the_method_p_values():
    assert sidak([0.01]) == pytest.approx(0.01)
    assert sidak([0.01, 0.5]) == pytest.approx(1 - 0.99 ** 2)
    assert sidak([NAN]) == 1.0
    # The configured floor maps the threshold to alpha when the normals are quiet ...
    m = cn_null_mean(np.array([0.5, 1.0, 2.0]), floor_llr=14.0, alpha=0.01)
    assert cn_p_value(14.0, m, 0.1, 0.02) == pytest.approx(0.01)
    # ... and noisier normals make the same LLR less significant.
    loud = cn_null_mean(np.array([6.0, 8.0, 10.0]), floor_llr=14.0, alpha=0.01)
    assert loud == pytest.approx(8.0) and cn_p_value(14.0, loud, 0.1, 0.02) > 0.1
    # A focal amplicon alone (altered fraction below the floor) carries no TF evidence.
    assert cn_p_value(200.0, m, 0.005, 0.02) == 1.0
    assert baf_p_value(0.0) == 1.0
    assert baf_p_value(1.92) == pytest.approx(0.025, abs=1e-3)
    # Binomial upper tail: 5 mutant fragments where 1 is expected.
    assert pooled_background_p_value(5, 10000, 1e-4, 1.0) == pytest.approx(0.00366, abs=1e-4)
    assert pooled_background_p_value(0, 10000, 1e-4, 1.0) == 1.0


def test_tumour_free_draws_are_detected_at_most_at_alpha():
    """Null draws with calibrated evidence from all three methods: the combined test keeps its
    level (Sidak is valid whatever the dependence)."""
    rng = np.random.default_rng(7)
    n, alpha, bg = 4000, 0.01, 2e-4
    normals = rng.exponential(2.0, 10)
    m = cn_null_mean(normals, 14.0, alpha)
    detected = 0
    for _ in range(n):
        p_cn = cn_p_value(float(rng.exponential(2.0)), m, 0.1, 0.02)
        depth = int(rng.integers(5000, 50000))
        p_snv = pooled_background_p_value(float(rng.binomial(depth, bg)), depth, bg, 1.0)
        llr = 0.5 * float(rng.chisquare(1)) if rng.random() < 0.5 else 0.0
        detected += combine([_ev("cn", 0.01, 0.01, p_cn), _ev("snv", 0.0, 0.002, p_snv),
                             _ev("baf", 0.0, 0.02, baf_p_value(llr))]).p_value <= alpha
    assert detected / n <= alpha


def test_combined_table_keeps_every_method_and_reports_zero_when_not_detected():
    cn = pd.DataFrame({
        "sample_id": ["A", "B", "N"], "patient_id": ["P", "P", "P"],
        "sample_type": ["plasma", "plasma", "normal"], "warning": ["", "", ""],
        "tumour_fraction": [0.2, 0.0, 0.0], "tf_lower": [0.18, 0.0, 0.0],
        "tf_upper": [0.22, 0.05, 0.04], "tf_detected": [True, False, False],
        "tumour_fraction_cn": [0.20, 0.02, 0.01], "tf_cn_lower": [0.18, 0.0, 0.0],
        "tf_cn_upper": [0.22, 0.05, 0.04], "tf_cn_p_value": [1e-12, 0.3, 0.5]})
    snv = pd.DataFrame({"sample_id": ["A", "B", "N"], "tumour_fraction_snv": [0.21, 0.03, 0.0],
                        "tf_snv_lower": [0.19, 0.02, 0.0], "tf_snv_upper": [0.23, 0.04, 0.002],
                        "tf_snv_p_value": [1e-30, 1e-8, 0.6], "n_variants": [12, 12, 12]})
    out = combine_draws(cn, snv, None, alpha=0.01).set_index("sample_id")
    assert list(out["tf_detected"]) == [True, True, False]
    assert out.loc["A", "tumour_fraction"] == pytest.approx(0.205, abs=0.003)
    # B: copy number alone would not call it; the SNVs do, and the estimate follows them.
    assert out.loc["B", "tumour_fraction"] == pytest.approx(0.03, abs=0.006)
    assert out.loc["N", "tumour_fraction"] == 0.0 and out.loc["N", "tf_lower"] == 0.0
    assert out.loc["A", "tf_method"] == "cn+snv"
    for col in ("tumour_fraction_cn", "tumour_fraction_snv", "tumour_fraction_baf",
                "tf_p_value", "n_snv"):
        assert col in out
    cn_only = combine_draws(cn, None, None, methods=("cn",)).set_index("sample_id")
    assert cn_only.loc["A", "tumour_fraction"] == pytest.approx(0.20, abs=1e-3)
    assert list(cn_only["tf_detected"]) == [True, False, False]


def test_a_copy_number_fit_on_a_sliver_of_the_genome_does_not_set_the_estimate():
    """A focal amplicon alone (altered fraction below the floor) can be fitted at any TF; such a
    fit stays in its own column but not in the combined estimate."""
    cn = pd.DataFrame({"sample_id": ["A"], "warning": [""], "tumour_fraction_cn": [0.62],
                       "tf_cn_lower": [0.35], "tf_cn_upper": [0.94], "tf_cn_p_value": [1.0],
                       "tf_cn_informative": [False]})
    snv = pd.DataFrame({"sample_id": ["A"], "tumour_fraction_snv": [0.19],
                        "tf_snv_lower": [0.17], "tf_snv_upper": [0.21],
                        "tf_snv_p_value": [1e-40]})
    out = combine_draws(cn, snv, None).iloc[0]
    assert out["tf_method"] == "snv" and out["tumour_fraction"] == pytest.approx(0.19, abs=1e-3)
    assert out["tumour_fraction_cn"] == 0.62 and out["tf_detected"]


def test_cli_writes_the_rule_tables(tmp_path, capsys):
    from plasmatrack.cli import main
    from plasmatrack.io import write_tsv

    cn = pd.DataFrame({"sample_id": ["A", "N"], "patient_id": ["P", "P"],
                       "sample_type": ["plasma", "normal"], "warning": ["", ""], "llr": [40, 1],
                       "tumour_fraction_cn": [0.11, 0.01], "tf_cn_lower": [0.09, 0.0],
                       "tf_cn_upper": [0.13, 0.03], "tf_cn_p_value": [1e-8, 0.6]})
    snv = pd.DataFrame({"sample_id": ["A", "N"], "tumour_fraction_snv": [0.12, 0.0],
                        "tf_snv_lower": [0.10, 0.0], "tf_snv_upper": [0.14, 0.002],
                        "tf_snv_p_value": [1e-20, 0.7]})
    write_tsv(cn, tmp_path / "cn.tsv")
    write_tsv(snv, tmp_path / "snv.tsv")
    out = tmp_path / "out"
    assert main(["cnv-combine", "--cn", str(tmp_path / "cn.tsv"), "--snv",
                 str(tmp_path / "snv.tsv"), "--out", str(out)]) == 0
    got = pd.read_csv(out / "tumour_fraction.tsv", sep="\t").set_index("sample_id")
    want = combine_draws(cn, snv, None).set_index("sample_id")
    assert got["tumour_fraction"].tolist() == pytest.approx(want["tumour_fraction"].tolist())
    assert got.loc["A", "tumour_fraction"] == pytest.approx(0.115, abs=0.003)
    assert list(got["tf_detected"]) == [True, False]
    assert main(["cnv-combine", "--cn", str(tmp_path / "cn.tsv"), "--tracked", "x.tsv",
                 "--out", str(out)]) != 0
    assert "--tracked and --states-dir go together" in capsys.readouterr().err
