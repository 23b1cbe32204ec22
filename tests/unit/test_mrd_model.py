"""The pooled residual-disease model on small synthetic inputs: the TF fit, its interval, the
Poisson LoD, outlier handling, plasma-informed leave-one-draw-out and bad variant lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from plasmatrack.errors import InputError
from plasmatrack.mrd.call import PLASMA_INFORMED, call_cohort, call_draw, find_outliers
from plasmatrack.mrd.model import (Evidence, fit_tf, lr_statistic, mc_p_value,
                                   poisson_critical_count, poisson_lod95, poisson_power,
                                   tf_interval)
from plasmatrack.mrd.settings import MrdSettings
from plasmatrack.mrd.sites import finish_sites, read_tumour_variants


def _evidence(depth, mutant, rate=1e-4, weight=0.5, control_depth=200_000):
    n = len(depth)
    full = lambda v: np.full(n, float(v))  # noqa: E731
    return Evidence(np.asarray(depth, float), np.asarray(mutant, float), full(rate), full(weight),
                    full(rate), full(rate * control_depth), full(control_depth), 50.0,
                    rate * control_depth * n + 0.5, control_depth * n + 0.5)


def test_fit_is_the_closed_form_for_equal_sites():
    # Equal rates and weights: the MLE solves e + tf/2 = total mutant / total depth.
    ev = _evidence([1000] * 20, [1] * 10 + [0] * 10)
    assert float(fit_tf(ev)) == pytest.approx(2 * (10 / 20_000 - 1e-4), rel=1e-6)
    assert float(fit_tf(_evidence([1000] * 20, [0] * 20))) == 0.0


def test_twenty_single_mutants_are_detected_although_no_site_is():
    # The example: 20 variants with one mutant molecule each.
    ev = _evidence([2000] * 20, [1] * 20)
    single = stats.binom.sf(0, 2000, 1e-4)
    assert single > 0.1  # one molecule at one site is no evidence
    call = call_draw(ev, [f"s{i}" for i in range(20)], MrdSettings(n_simulations=2000),
                     np.random.default_rng(1))
    assert call["status"] == "detected" and call["p_value"] < 0.01
    assert call["tf_lower"] < call["tumour_fraction"] < call["tf_upper"]


def test_null_p_values_are_uniform_enough():
    rng = np.random.default_rng(3)
    ps = []
    for _ in range(300):
        ev = _evidence([1500] * 30, rng.binomial(1500, 1e-4, 30))
        ps.append(mc_p_value(ev, float(lr_statistic(ev)[0]), 500, rng))
    ps = np.array(ps)
    assert np.mean(ps < 0.05) <= 0.07
    assert np.mean(ps < 0.2) > 0.05  # not degenerate at 1


def test_interval_covers_the_truth():
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(100):
        depth = rng.integers(500, 3000, 40)
        ev = _evidence(depth, rng.binomial(depth, 1e-4 + 2e-3 * 0.5))
        lower, upper = tf_interval(ev, float(fit_tf(ev)))
        covered += lower <= 2e-3 <= upper
    assert covered >= 90


def test_poisson_lod_gives_95_percent_power():
    k = poisson_critical_count(2.0, 0.01)
    assert stats.poisson.sf(k - 1, 2.0) < 0.01 <= stats.poisson.sf(k - 2, 2.0)
    lod = poisson_lod95(2.0, 10_000.0, 0.01)
    assert poisson_power(2.0, lod * 10_000, 0.01) == pytest.approx(0.95, abs=1e-6)
    assert np.isnan(poisson_lod95(0.0, 0.0, 0.01))


def test_a_chip_like_outlier_is_left_out_with_a_note():
    depth = [2000] * 40
    mutant = [1, 0, 1, 0] * 10
    mutant[7] = 40  # 2 % VAF at one site while the rest sit at 0.05 %
    ev = _evidence(depth, mutant)
    assert [i for i, _ in find_outliers(ev, 1e-6, 0.1)] == [7]
    call = call_draw(ev, [f"v{i}" for i in range(40)], MrdSettings(n_simulations=500),
                     np.random.default_rng(1))
    assert call["n_variants"] == 39 and "v7 40/2000" in call["note"]
    assert call["tumour_fraction"] == pytest.approx(2 * (20 / 78_000 - 1e-4), rel=0.05)


def test_no_outlier_when_the_sites_agree():
    rng = np.random.default_rng(2)
    ev = _evidence([2000] * 60, rng.binomial(2000, 1e-4 + 5e-3, 60))
    assert find_outliers(ev, 1e-6, 0.1) == []


def test_few_molecules_are_not_evaluable():
    ev = _evidence([10] * 20, [0] * 20)
    call = call_draw(ev, [f"s{i}" for i in range(20)], MrdSettings(), np.random.default_rng(1))
    assert call["status"] == "not_evaluable" and "informative" in call["note"]
    assert call["lod95"] > 0.01


def _cohort():
    """Two patients, two draws each, a normal; P1's variant B found only in D1."""
    sites = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "chrom": "chr1",
                          "pos": [100, 200, 300], "ref": "C", "alt": "T",
                          "ccf": 1.0, "multiplicity": 1.0,
                          "found_in": ["P1_D1,P1_D2", "P1_D1", "P2_D1"]})
    sites = finish_sites(sites)
    draws = pd.DataFrame({"sample_id": ["P1_D1", "P1_D2", "P2_D1", "P2_D2", "N"],
                          "patient_id": ["P1", "P1", "P2", "P2", "P1"],
                          "sample_type": ["plasma", "plasma", "plasma", "plasma", "normal"],
                          "timepoint_days": [0, 30, 0, 30, None]})
    rows = [(s, site, 20 if (s.startswith("P1") and site.endswith("100:C>T")) else 0, 3000)
            for s in draws["sample_id"] for site in sites["site_id"].unique()]
    counts = pd.DataFrame(rows, columns=["sample_id", "site_id", "mutant", "depth"])
    return sites, counts, draws


def test_plasma_informed_leaves_each_draws_own_variants_out():
    sites, counts, draws = _cohort()
    calls = call_cohort(sites, counts, draws, MrdSettings(n_simulations=500),
                        PLASMA_INFORMED).set_index("sample_id")
    # P1_D1 is tested with A only (found in D2 too; B was found in D1 alone), P1_D2 with A and
    # B (both found in D1).
    assert calls.loc["P1_D1", "n_variants"] == 1
    assert calls.loc["P1_D2", "n_variants"] == 2
    assert calls.loc["P2_D1", "status"] == "not_evaluable"  # its only variant is its own
    assert calls.loc["P2_D2", "n_variants"] == 1
    assert "plasma-informed" in calls.loc["P1_D2", "note"]
    assert calls.loc["P1_D1", "status"] == "detected"


def test_tumour_variant_list_errors_name_row_and_column(tmp_path):
    path = tmp_path / "tumour.tsv"
    path.write_text("patient_id\tchrom\tpos\tref\talt\tccf\nP1\tchr1\t10\tC\tT\t1.5\n"
                    "P 1\tchr1\tx\tC\tT\t\n")
    with pytest.raises(InputError) as err:
        read_tumour_variants(path)
    text = str(err.value)
    assert "row 3, column 'pos'" in text
    path.write_text("patient_id\tchrom\tpos\tref\talt\tccf\nP1\tchr1\t10\tC\tT\t1.5\n")
    with pytest.raises(InputError, match="row 2, column 'ccf'"):
        read_tumour_variants(path)


def test_clonal_ccf_and_multiplicity_set_the_weights():
    from plasmatrack.mrd.sites import clonal_weights

    sites = pd.DataFrame({"patient_id": ["P1", "P1", "P1"], "chrom": "chr1", "pos": [10, 20, 30],
                          "ref": "C", "alt": "T", "ccf": 1.0, "multiplicity": 1.0,
                          "found_in": "P1_D1"})
    ccf = pd.DataFrame({"patient_id": "P1", "chrom": "chr1", "pos": [10, 10, 10, 20],
                        "ref": "C", "alt": "T", "ccf": [0.3, 0.5, 0.4, 0.0],
                        "multiplicity": [1, 1, 1, 2]})
    out = finish_sites(clonal_weights(sites, ccf))
    # Median CCF 0.4 -> weight 0.2; CCF 0 floored at 0.05 with multiplicity 2 -> 0.05; the
    # variant the clonal stage did not fit keeps the clonal heterozygous 0.5.
    assert out["weight"].tolist() == pytest.approx([0.2, 0.05, 0.5])


def test_no_plasma_detected_variant_is_not_evaluable_with_the_reason(tmp_path):
    from plasmatrack.mrd.pipeline import run_mrd_call, run_mrd_sites

    tracked = pd.DataFrame({"patient_id": ["P1"], "sample_id": ["P1_D1"],
                            "sample_type": ["plasma"], "chrom": ["chr1"], "pos": [10],
                            "ref": ["C"], "alt": ["T"], "gene": ["G"], "status": ["not_detected"],
                            "category": ["somatic"]})
    tracked.to_csv(tmp_path / "tracked.tsv", sep="\t", index=False)
    assert run_mrd_sites(tmp_path / "sites.tsv", tracked=str(tmp_path / "tracked.tsv")) == \
        PLASMA_INFORMED
    (tmp_path / "c.tsv").write_text("chrom\tpos\tref\talt\tdepth\tmutant\n")
    draws = pd.DataFrame({"sample_id": ["P1_D1"], "patient_id": ["P1"],
                          "sample_type": ["plasma"], "timepoint_days": [0]})
    calls = run_mrd_call(tmp_path / "sites.tsv", {"P1_D1": str(tmp_path / "c.tsv")}, draws,
                         MrdSettings(), tmp_path / "calls.tsv")
    assert calls["status"].tolist() == ["not_evaluable"]
    assert "found in its other draws" in calls["note"][0]
    assert (tmp_path / "calls.tsv").is_file()


def test_without_controls_there_is_no_background_and_no_call():
    sites, counts, draws = _cohort()
    alone = draws[draws["patient_id"] == "P1"].iloc[:2]  # P1's draws, no normal, no P2
    counts = counts[counts["sample_id"].isin(alone["sample_id"])]
    calls = call_cohort(sites, counts, alone, MrdSettings(n_simulations=200), "tumour-informed")
    assert (calls["status"] == "not_evaluable").all()
    assert calls["note"].str.contains("no control molecules").all()
