"""HER2 burden per draw and patient, baseline selection, dynamics, missing stage tables, the
external-calls importer, and the cohort stage on the simulator's truth (burden exactly as the
simulator defines it; the built-in burden -> hazard link recovered at 60 patients)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cohort.burden import burden_table, select_baseline
from plasmatrack.cohort.draws import draw_metrics, metric_values
from plasmatrack.cohort.dynamics import dynamics_table
from plasmatrack.cohort.outcome import assign_burden_groups, cohort_survival
from plasmatrack.cohort.pipeline import build_cohort_tables
from plasmatrack.cohort.settings import CohortSettings
from plasmatrack.errors import InputError
from plasmatrack.import_calls import CallColumns, import_calls, patient_table
from plasmatrack.stats.survival import continuous_cox

BIN = Path(sys.executable).parent


def tf_table(rows):
    """rows: (sample, patient, day, tf, detected)"""
    return pd.DataFrame([{"sample_id": s, "patient_id": p, "timepoint_days": d,
                          "tumour_fraction": tf, "tf_lower": tf * 0.8, "tf_upper": tf * 1.2,
                          "ploidy": 2.0, "tf_detected": det, "method": "hmm"}
                         for s, p, d, tf, det in rows])


def erbb2_table(rows):
    """rows: (sample, patient, day, pcn)"""
    return pd.DataFrame([{"sample_id": s, "patient_id": p, "timepoint_days": d, "gene": "ERBB2",
                          "plasma_copy_number": pcn, "amplified": pcn >= 2.4}
                         for s, p, d, pcn in rows])


def variant_table(rows):
    """rows: (sample, patient, day, gene, protein, vaf, status, category)"""
    return pd.DataFrame([{"patient_id": p, "sample_id": s, "sample_type": "plasma",
                          "timepoint_days": d, "chrom": "chr17", "pos": 100, "ref": "T",
                          "alt": "C", "gene": g, "protein_change": prot, "vaf": v,
                          "status": st, "category": cat}
                         for s, p, d, g, prot, v, st, cat in rows])


@pytest.fixture
def stage():
    """Three patients: A amplified (TF 0.2, tumour CN 12 -> PCN 4), M mutant (ERBB2 VAF 0.05),
    Z with a draw only after day 0 (no baseline) and no clinical row."""
    tf = tf_table([
        ("A1", "A", -30, 0.15, True), ("A2", "A", -3, 0.2, True), ("A3", "A", 40, 0.02, False),
        ("M1", "M", 0, 0.1, True), ("M2", "M", 35, 0.08, True),
        ("Z1", "Z", 5, 0.1, True),
    ])
    e = erbb2_table([("A1", "A", -30, 3.5), ("A2", "A", -3, 4.0), ("A3", "A", 40, 2.2),
                     ("M1", "M", 0, 2.02), ("M2", "M", 35, 1.97), ("Z1", "Z", 5, 2.0)])
    v = variant_table([
        ("A2", "A", -3, "TP53", "R175H", 0.1, "detected", "somatic"),
        ("A3", "A", 40, "TP53", "R175H", 0.0005, "not_detected", "somatic"),
        ("M1", "M", 0, "ERBB2", "L755S", 0.05, "detected", "somatic"),
        ("M1", "M", 0, "ERBB2", "T862T", 0.2, "detected", "somatic"),  # silent: ignored
        ("M1", "M", 0, "ERBB2", "", 0.5, "detected", "germline"),  # germline: ignored
        ("M2", "M", 35, "ERBB2", "L755S", 0.01, "undetermined", "somatic"),
    ])
    clinical = pd.DataFrame({"patient_id": ["A", "M"], "ttf_months": [3.0, 9.0],
                             "ttf_event": [1, 0], "best_response": ["PD", "PR"],
                             "her2_status": ["amplified", "mutant"]})
    return tf, e, v, clinical


def test_draw_metrics_components_and_primary_burden(stage):
    tf, e, v, _ = stage
    draws = draw_metrics(tf, e, v).set_index("sample_id")
    # amplified: excess copies TF x (CN - 2) = 0.2 x 10 = 2
    assert draws.loc["A2", "erbb2_excess_copies"] == pytest.approx(2.0)
    assert draws.loc["A2", "her2_burden"] == pytest.approx(2.0)
    assert draws.loc["A2", "erbb2_tumour_copy_number"] == pytest.approx(12.0)
    # TF below the 0.03 floor: tumour copy number not estimable, not a huge number
    assert pd.isna(draws.loc["A3", "erbb2_tumour_copy_number"])
    # amplified patient without an ERBB2 mutation: mutant VAF is 0, not missing
    assert draws.loc["A2", "erbb2_mutation_vaf"] == 0.0
    # mutant: 2 x VAF (silent and germline ERBB2 rows ignored) + max(PCN - 2, 0)
    assert draws.loc["M1", "erbb2_mutation_vaf"] == pytest.approx(0.05)
    assert draws.loc["M1", "erbb2_mutation"] == "L755S"
    assert draws.loc["M1", "her2_burden"] == pytest.approx(0.02 + 0.1)
    # undetermined mutation + PCN below 2: VAF unknown, burden counts what is known (0)
    assert pd.isna(draws.loc["M2", "erbb2_mutation_vaf"])
    assert draws.loc["M2", "her2_burden"] == pytest.approx(0.0)
    assert "undetermined" in draws.loc["M2", "note"]
    # ctDNA detection by TF or by a detected somatic variant
    assert bool(draws.loc["A2", "ctdna_detected"]) and not bool(draws.loc["A3", "ctdna_detected"])


def test_metric_alternatives():
    df = pd.DataFrame({"erbb2_plasma_copy_number": [4.0, 1.9, np.nan],
                       "erbb2_mutation_vaf": [0.0, 0.05, 0.05],
                       "erbb2_tumour_copy_number": [12.0, np.nan, np.nan],
                       "tumour_fraction": [0.2, 0.1, 0.1]})
    assert metric_values(df, "altered_copies").tolist() == pytest.approx([2.0, 0.1, 0.1])
    assert metric_values(df, "excess_copies").tolist()[:2] == pytest.approx([2.0, 0.0])
    assert metric_values(df, "mutation_vaf").tolist() == pytest.approx([0.0, 0.05, 0.05])
    with pytest.raises(InputError, match="unknown"):
        metric_values(df, "copies")


def test_baseline_is_last_draw_in_window(stage):
    tf, e, v, _ = stage
    draws = draw_metrics(tf, e, v)
    base = select_baseline(draws, (-90, 0)).set_index("patient_id")
    assert base.loc["A", "sample_id"] == "A2"  # day -3 beats day -30
    assert base.loc["M", "sample_id"] == "M1"  # day 0 counts as baseline
    assert pd.isna(base.loc["Z", "sample_id"])  # only a day-5 draw
    narrow = select_baseline(draws, (-10, 0)).set_index("patient_id")
    assert narrow.loc["A", "sample_id"] == "A2"
    wide = select_baseline(draws, (None, 10)).set_index("patient_id")
    assert wide.loc["Z", "sample_id"] == "Z1"


def test_burden_table_columns_groups_and_clinical(stage):
    tf, e, v, clinical = stage
    draws = draw_metrics(tf, e, v)
    burden = burden_table(draws, clinical)
    assert list(burden.columns[:11]) == [
        "patient_id", "baseline_sample_id", "timepoint_days", "tumour_fraction",
        "erbb2_plasma_copy_number", "erbb2_excess_copies", "erbb2_tumour_copy_number",
        "erbb2_amplified", "erbb2_mutation_vaf", "her2_burden", "her2_burden_group"]
    assert {"ttf_months", "ttf_event", "best_response", "her2_status"} <= set(burden.columns)
    burden, cut, msg = assign_burden_groups(burden, CohortSettings())
    b = burden.set_index("patient_id")
    assert msg == ""
    assert cut == pytest.approx(np.median([2.0, 0.12]))
    assert b.loc["A", "her2_burden_group"] == "high" and b.loc["M", "her2_burden_group"] == "low"
    assert bool(b.loc["A", "in_survival"]) and not bool(b.loc["Z", "in_survival"])
    assert "no plasma draw in the baseline window" in b.loc["Z", "note"]
    assert "no clinical row" in b.loc["Z", "note"]


def test_missing_variant_table_keeps_amplification_and_blanks_mutant_burden(stage):
    tf, e, _, clinical = stage
    draws = draw_metrics(tf, e, None)
    assert draws["erbb2_mutation_vaf"].isna().all()
    assert "no variant table" in draws["note"].iloc[0]
    burden = burden_table(draws, clinical).set_index("patient_id")
    assert burden.loc["A", "her2_burden"] == pytest.approx(2.0)
    # clinical says mutant and the mutant component is unknown: NA, not a misleading ~0
    assert pd.isna(burden.loc["M", "her2_burden"])


def test_missing_copy_number_table(stage):
    tf, _, v, _ = stage
    draws = draw_metrics(tf, None, v).set_index("sample_id")
    assert pd.isna(draws.loc["A2", "erbb2_plasma_copy_number"])
    assert draws.loc["M1", "her2_burden"] == pytest.approx(0.1)
    assert "amplification not included" in draws.loc["A2", "note"]


def test_dynamics_categories():
    tf = tf_table([
        ("C0", "C", -1, 0.10, True), ("C1", "C", 30, 0.0, False),  # clearance
        ("R0", "R", -1, 0.20, True), ("R1", "R", 30, 0.05, True),  # response (ratio 0.25)
        ("P0", "P", -1, 0.05, True), ("P1", "P", 30, 0.15, True),  # progression (ratio 3)
        ("S0", "S", -1, 0.10, True), ("S1", "S", 30, 0.08, True),  # stable
        ("N0", "N", -1, 0.0, False), ("N1", "N", 30, 0.0, False),  # not evaluable
        ("L0", "L", -1, 0.1, True), ("L1", "L", 200, 0.1, True),   # on-treatment draw too late
    ])
    e = erbb2_table([(s, p, d, 2.0) for s, p, d in tf[["sample_id", "patient_id",
                                                        "timepoint_days"]].values])
    draws = draw_metrics(tf, e, None)
    dyn = dynamics_table(draws).set_index("patient_id")
    assert dyn.loc["C", "molecular_response"] == "clearance"
    assert bool(dyn.loc["C", "ctdna_clearance"])
    assert dyn.loc["R", "molecular_response"] == "response"
    assert dyn.loc["R", "tf_ratio"] == pytest.approx(0.25)
    assert dyn.loc["R", "tf_log2_fold"] == pytest.approx(np.log2(0.051 / 0.201))
    assert dyn.loc["P", "molecular_response"] == "progression"
    assert dyn.loc["S", "molecular_response"] == "stable"
    assert dyn.loc["N", "molecular_response"] == "not_evaluable"
    assert "not detected at baseline" in dyn.loc["N", "note"]
    assert dyn.loc["L", "molecular_response"] == "not_evaluable"
    assert pd.isna(dyn.loc["L", "on_treatment_sample_id"])
    assert bool(dyn.loc["R", "molecular_responder"]) and not bool(dyn.loc["S",
                                                                          "molecular_responder"])
    assert pd.isna(dyn.loc["N", "molecular_responder"])


def test_settings_from_config_rejects_unknown_keys_and_metrics():
    assert CohortSettings.from_config({"cutpoint": "1.5"}).cutpoint == 1.5
    with pytest.raises(InputError, match="unknown key"):
        CohortSettings.from_config({"cutoff": 1})
    with pytest.raises(InputError, match="unknown metric"):
        CohortSettings.from_config({"metric": "copies"})


def test_stage_table_missing_column_names_the_file(tmp_path):
    bad = tmp_path / "tumour_fraction.tsv"
    pd.DataFrame({"sample_id": ["a"], "patient_id": ["p"]}).to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"tumour_fraction.tsv.*tumour_fraction"):
        build_cohort_tables(bad, None, None, None)


# --------------------------------------------------------------------------- importer

def test_import_calls_derives_draw_metrics():
    calls = pd.DataFrame({
        "pt": ["X", "X", "X", "X", "X", "Y", "Y"],
        "date": ["2020-01-10", "2020-01-10", "2020-01-10", "2020-03-10", "2020-03-10",
                 "2021-05-01", "2021-06-01"],
        "gene": ["TP53", "ERBB2", "ERBB2", "TP53", "", "KRAS", "ERBB2"],
        "alt": ["R175H", "Amplification", "L755S", "R175H", "", "G12C", "Amplification"],
        "vaf": ["8.0", "", "3.0", "1.0", "", "0.4", ""],
        "cn": ["", "3.1", "", "", "", "", "2.6"],
    })
    cols = CallColumns(patient="pt", date="date", gene="gene", alteration="alt", vaf="vaf",
                       copy_number="cn")
    imp = import_calls(calls, cols, vaf_unit="percent")
    d = imp.draws.set_index("sample_id")
    assert list(d.index) == ["X_d0", "X_d60", "Y_d0", "Y_d31"]
    assert d.loc["X_d0", "max_vaf"] == 0.08 and d.loc["X_d0", "cumulative_vaf"] == 0.11
    assert d.loc["X_d0", "tumour_fraction"] == pytest.approx(0.16)
    assert d.loc["X_d0", "erbb2_plasma_copy_number"] == 3.1
    assert d.loc["X_d60", "erbb2_plasma_copy_number"] == 2.0  # no amplification reported
    assert not d.loc["Y_d31", "tf_detected"] and d.loc["Y_d31", "tumour_fraction"] == 0
    v = imp.variants
    # every alteration of a patient in every draw: L755S absent at day 60 -> not detected, 0
    l755 = v[(v["sample_id"] == "X_d60") & (v["alteration"] == "L755S")].iloc[0]
    assert l755["status"] == "not_detected" and l755["vaf"] == 0
    patients, dynamics = patient_table(imp)
    p = patients.set_index("patient_id")
    assert p.loc["X", "baseline_sample_id"] == "X_d0"
    assert p.loc["X", "her2_burden"] == pytest.approx(1.1 + 2 * 0.03)
    assert p.loc["X", "baseline_cumulative_vaf"] == 0.11
    dyn = dynamics.set_index("patient_id")
    assert dyn.loc["X", "tf_ratio"] == pytest.approx(0.02 / 0.16)
    assert dyn.loc["X", "molecular_response"] == "response"


def test_import_calls_errors_name_row_and_column():
    calls = pd.DataFrame({"patient_id": ["P1", "P1"], "draw_date": [0, 10],
                          "gene": ["TP53", "TP53"], "vaf": ["1.0", "lots"]})
    with pytest.raises(InputError, match=r"row 3, column 'vaf'"):
        import_calls(calls)
    calls = pd.DataFrame({"patient_id": ["P 1"], "draw_date": [0], "gene": ["TP53"],
                          "vaf": ["1.0"]})
    with pytest.raises(InputError, match=r"row 2, column 'patient_id'"):
        import_calls(calls)
    with pytest.raises(InputError, match="required column"):
        import_calls(pd.DataFrame({"patient": ["P1"]}))


# --------------------------------------------------------------------------- simulator truth

@pytest.fixture(scope="module")
def sim60(tmp_path_factory):
    """A 60-patient simulated cohort without reads, and stage tables written from its truth
    (what perfect copy-number and variant stages would publish)."""
    out = tmp_path_factory.mktemp("sim60")
    cohort = out / "cohort"
    proc = subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort),
                           "--patients", "60", "--no-reads", "--seed", "3"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"simulator failed: {proc.stderr[-2000:]}")
    truth = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t", dtype={"sample_id": str})
    plasma = truth[truth["sample_type"] == "plasma"]
    stage = out / "stage"
    stage.mkdir()
    tf_table([(r.sample_id, r.patient_id, r.timepoint_days, r.tumour_fraction,
               r.tumour_fraction > 0) for r in plasma.itertuples()]
             ).to_csv(stage / "tumour_fraction.tsv", sep="\t", index=False)
    pd.DataFrame({"sample_id": plasma["sample_id"], "patient_id": plasma["patient_id"],
                  "timepoint_days": plasma["timepoint_days"], "gene": "ERBB2",
                  "plasma_copy_number": plasma["erbb2_plasma_copy_number"],
                  "tumour_copy_number": plasma["erbb2_tumour_copy_number"],
                  "amplified": plasma["erbb2_plasma_copy_number"] >= 2.4}
                 ).to_csv(stage / "erbb2.tsv", sep="\t", index=False)
    v = pd.read_csv(cohort / "truth" / "variants.tsv", sep="\t", dtype={"sample_id": str})
    v = v.assign(vaf=v["expected_vaf"],
                 status=np.where(v["expected_vaf"] > 0, "detected", "not_detected"))
    v.to_csv(stage / "tracked_variants.tsv", sep="\t", index=False)
    return cohort, stage


def test_burden_from_truth_tables_equals_simulator_truth(sim60):
    cohort, stage = sim60
    tables = build_cohort_tables(stage / "tumour_fraction.tsv", stage / "erbb2.tsv",
                                 stage / "tracked_variants.tsv", cohort / "clinical.tsv",
                                 cohort / "samples.tsv")
    truth = pd.read_csv(cohort / "truth" / "patients.tsv", sep="\t")
    m = tables.burden.merge(truth, on="patient_id", suffixes=("", "_truth"))
    assert len(m) == 60
    assert (m["baseline_sample_id"] == m["baseline_sample_id_truth"]).all()
    assert np.allclose(m["her2_burden"], m["baseline_her2_burden"], atol=1e-6)
    assert np.allclose(m["erbb2_mutation_vaf"], m["baseline_erbb2_mutation_vaf"], atol=1e-6)
    assert np.allclose(m["erbb2_excess_copies"], m["baseline_erbb2_excess_copies"], atol=1e-6)
    assert m["in_survival"].all()


def test_burden_hazard_link_recovered_at_60_patients(sim60):
    """The simulator's outcome model raises the hazard with log burden; a Cox model on the truth
    burden recovers HR > 1 per unit log burden at p < 0.05, and so does the cohort stage."""
    cohort, stage = sim60
    truth = pd.read_csv(cohort / "truth" / "patients.tsv", sep="\t")
    res = continuous_cox(truth, "ttf_months", "ttf_event", "baseline_her2_burden", "truth",
                         "ttf", log=True, log_offset=0.01)
    row = res.table().iloc[0]
    assert row["hazard_ratio"] > 1 and row["hr_lower"] > 1 and row["p_value"] < 0.05
    tables = build_cohort_tables(stage / "tumour_fraction.tsv", stage / "erbb2.tsv",
                                 stage / "tracked_variants.tsv", cohort / "clinical.tsv",
                                 cohort / "samples.tsv")
    results = cohort_survival(tables.burden, tables.dynamics, CohortSettings(permutations=200))
    rows = results.table().set_index("analysis")
    cox = rows.loc["ttf_burden_cox"]
    assert cox["hazard_ratio"] > 1 and cox["p_value"] < 0.05
    assert not bool(cox["small_cohort"])
    km = rows.loc["ttf_burden_median"]
    assert km["hazard_ratio"] > 1 and km["p_value"] < 0.05
    assert km["groups"] == "high=30;low=30"
    assert "ttf_landmark_molecular_response" in rows.index
    assert rows.loc["burden_vs_best_response_jonckheere_terpstra", "statistic"] > 0


def test_burden_cli_on_the_simulated_cohort(sim60, tmp_path, capsys):
    from plasmatrack.cli import main

    cohort, stage = sim60
    out = tmp_path / "cohort"
    rc = main(["burden", "--config", str(cohort / "config.yaml"),
               "--tumour-fraction", str(stage / "tumour_fraction.tsv"),
               "--erbb2", str(stage / "erbb2.tsv"), "--variants",
               str(stage / "tracked_variants.tsv"), "--cutpoint", "maxstat", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    burden = pd.read_csv(out / "her2_burden.tsv", sep="\t")
    cut = burden["her2_burden_cutpoint"].iloc[0]
    assert ((burden["her2_burden"] > cut) == (burden["her2_burden_group"] == "high")).all()
    survival = pd.read_csv(out / "survival.tsv", sep="\t").set_index("analysis")
    row = survival.loc["ttf_burden_maxstat"]
    assert row["cutpoint"] == pytest.approx(cut)
    assert row["p_value_adjusted"] >= row["p_value"]
    for name in ("dynamics", "draw_metrics", "km_curves", "km_at_risk", "cox_terms",
                 "maxstat_cuts"):
        assert (out / f"{name}.tsv").is_file()


def test_degenerate_cohorts_complete_and_say_what_was_not_computed():
    # one patient, censored
    tf = tf_table([("A1", "A", -3, 0.2, True), ("A2", "A", 30, 0.1, True)])
    e = erbb2_table([("A1", "A", -3, 4.0), ("A2", "A", 30, 3.0)])
    draws = draw_metrics(tf, e, None)
    clin = pd.DataFrame({"patient_id": ["A"], "ttf_months": [3.0], "ttf_event": [0]})
    burden, _, _ = assign_burden_groups(burden_table(draws, clin))
    rows = cohort_survival(burden, dynamics_table(draws)).table()
    assert len(rows) and rows["small_cohort"].astype(bool).all()
    assert rows["note"].str.contains("not estimable").all()
    # six patients, all censored, maxstat cut requested: groups cannot be set, nothing raises
    tf = tf_table([(f"P{i}_1", f"P{i}", -1, 0.05 * (i + 1), True) for i in range(6)])
    e = erbb2_table([(f"P{i}_1", f"P{i}", -1, 2 + 0.5 * i) for i in range(6)])
    draws = draw_metrics(tf, e, None)
    clin = pd.DataFrame({"patient_id": [f"P{i}" for i in range(6)], "ttf_months": [3.0] * 6,
                         "ttf_event": [0] * 6})
    settings = CohortSettings(cutpoint="maxstat")
    burden, cut, message = assign_burden_groups(burden_table(draws, clin), settings)
    assert cut is None and "not assigned" in message and burden["her2_burden_group"].isna().all()
    rows = cohort_survival(burden, dynamics_table(draws), settings).table().set_index("analysis")
    assert "not estimable" in rows.loc["ttf_burden_maxstat", "note"]
    assert pd.isna(rows.loc["ttf_burden_cox", "hazard_ratio"])
