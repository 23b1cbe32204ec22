"""The residual-disease calls in the cohort tables: per-draw detection (draw_metrics), the
molecular response and clearance by the pooled call (dynamics) and their landmark survival
rows (survival.tsv)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cohort.mrd_response import (DYNAMICS_MRD_COLUMNS, add_draw_detection,
                                             add_mrd_dynamics, mrd_landmark_analyses)

CALLS = pd.DataFrame({
    "sample_id": ["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2", "E1", "E2"],
    "patient_id": list("AABBCCDDEE"),
    "tumour_fraction": [1e-2, 0.0, 1e-2, 4e-3, 1e-3, 3e-3, 0.0, 2e-4, 1e-2, 9e-3],
    "lod95": [3e-4] * 10,
    "status": ["detected", "not_detected", "detected", "detected", "detected", "detected",
               "not_detected", "detected", "detected", "not_evaluable"]})


def _dynamics():
    return pd.DataFrame({"patient_id": list("ABCDE"),
                         "baseline_sample_id": ["A1", "B1", "C1", "D1", "E1"],
                         "on_treatment_sample_id": ["A2", "B2", "C2", "D2", "E2"],
                         "on_treatment_day": [30] * 5})


def test_response_categories():
    out = add_mrd_dynamics(_dynamics(), CALLS).set_index("patient_id")
    assert list(out.columns[-len(DYNAMICS_MRD_COLUMNS):]) == DYNAMICS_MRD_COLUMNS
    assert out["mrd_response"].to_dict() == {"A": "clearance", "B": "response", "C": "rise",
                                             "D": "rise", "E": "not_evaluable"}
    assert out.loc["A", "mrd_clearance"] and not out.loc["B", "mrd_clearance"]
    assert pd.isna(out.loc["D", "mrd_clearance"])  # not detected at baseline
    assert out["mrd_responder"].tolist()[:3] == [True, True, False]
    assert pd.isna(out.loc["E", "mrd_responder"])


def test_draw_detection_by_either_call():
    draws = pd.DataFrame({"sample_id": ["A1", "A2", "D1", "X1"],
                          "tf_detected": [False, True, False, pd.NA]})
    out = add_draw_detection(draws, CALLS)
    assert out["mrd_status"].tolist()[:3] == ["detected", "not_detected", "not_detected"]
    assert out["ctdna_detected_mrd_or_cn"].tolist()[:3] == [True, True, False]
    assert pd.isna(out["ctdna_detected_mrd_or_cn"].iloc[3])


def test_landmark_rows_for_response_and_clearance():
    rng = np.random.default_rng(4)
    n = 30
    dyn = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "on_treatment_day": 30,
                        "mrd_responder": pd.array(rng.random(n) < 0.5, dtype="boolean"),
                        "mrd_clearance": pd.array(rng.random(n) < 0.5, dtype="boolean")})
    # Responders and cleared patients live longer: the analyses must see it.
    months = 4 + rng.exponential(6, n) + 12 * dyn["mrd_responder"].astype(int).to_numpy()
    burden = pd.DataFrame({"patient_id": dyn["patient_id"], "ttf_months": months,
                           "ttf_event": 1})
    rows = pd.DataFrame(mrd_landmark_analyses(burden, dyn, "ttf").rows)
    assert {"ttf_landmark_mrd_response", "ttf_landmark_mrd_clearance"} <= set(rows["analysis"])
    response = rows[rows["analysis"] == "ttf_landmark_mrd_response"].iloc[0]
    assert response["n"] == n and response["p_value"] < 0.01 and response["hazard_ratio"] < 1


def test_report_figures_show_the_pooled_call_and_lod():
    import plotly.graph_objects as go

    from plasmatrack.report.cohort_figures import swimmer_plot
    from plasmatrack.report.mrd_figures import methods_sentence
    from plasmatrack.report.patient_figures import tumour_fraction_over_time

    mrd = CALLS[CALLS["patient_id"] == "A"].assign(
        timepoint_days=[0, 60], tf_lower=[5e-3, 0.0], tf_upper=[2e-2, 4e-4],
        p_value=[1e-4, 1.0], n_variants=[50, 50], note="")
    fig = tumour_fraction_over_time(None, None, mrd=mrd)
    names = [t.name for t in fig.data]
    assert any("pooled variants" in n for n in names) and "LoD95 of the pooled call" in names
    pooled = next(t for t in fig.data if "pooled variants" in t.name)
    assert list(pooled.marker.symbol) == ["star", "star-open"]
    lod = next(t for t in fig.data if t.name == "LoD95 of the pooled call")
    assert list(lod.y) == [3e-4, 3e-4]
    clinical = pd.DataFrame({"patient_id": ["A"], "ttf_months": [8.0], "ttf_event": [1]})
    draws = mrd[["sample_id", "patient_id", "timepoint_days"]]
    swim = swimmer_plot(clinical, draws, mrd=mrd)
    assert isinstance(swim, go.Figure)
    assert {"detected by pooled variants", "not detected by pooled variants"} <= {
        t.name for t in swim.data}
    assert "tumour-informed" in methods_sentence(mrd) and methods_sentence(None) == ""


def test_left_censored_baseline_beside_zero():
    from plasmatrack.cohort.mrd_response import baseline_lod_sensitivity

    rng = np.random.default_rng(8)
    n = 40
    tf = 10 ** rng.uniform(-4, -2, n)
    lod = np.full(n, 3e-4)
    detected = tf > lod
    dyn = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)],
                        "mrd_status_baseline": np.where(detected, "detected", "not_detected"),
                        "mrd_tf_baseline": np.where(detected, tf, 0.0),
                        "mrd_lod95_baseline": lod})
    # Higher baseline TF, shorter TTF.
    burden = pd.DataFrame({"patient_id": dyn["patient_id"],
                           "ttf_months": rng.exponential(1.0, n) * 20 * (1e-3 / tf) ** 0.5,
                           "ttf_event": 1})
    rows = pd.DataFrame(baseline_lod_sensitivity(burden, dyn, "ttf").rows)
    assert list(rows["analysis"]) == ["ttf_cox_mrd_tf_zero", "ttf_cox_mrd_tf_left_censored"]
    assert (rows["n"] == n).all() and (rows["hazard_ratio"] > 1).all()
    assert rows["note"].str.contains(f"{int((~detected).sum())} of {n} baselines").all()


def test_cohort_tables_and_survival_carry_the_pooled_call(tmp_path):
    """The cohort stage fed a residual-disease table: draw_metrics and dynamics keep their
    columns and gain the MRD ones at the end; survival.tsv gains the MRD rows."""
    import subprocess
    import sys

    from plasmatrack.cohort.burden_lod import BURDEN_LOD_COLUMNS
    from plasmatrack.cohort.columns import DRAW_METRICS_COLUMNS, DYNAMICS_COLUMNS
    from plasmatrack.cohort.mrd_response import DRAW_MRD_COLUMNS
    from plasmatrack.cohort.outcome import cohort_survival
    from plasmatrack.cohort.pipeline import build_cohort_tables

    cohort = tmp_path / "cohort"
    subprocess.run([sys.executable, "-m", "plasmatrack", "simulate", "--out", str(cohort),
                    "--patients", "24", "--no-reads", "--seed", "4"], check=True,
                   capture_output=True)
    truth = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t", dtype={"sample_id": str})
    plasma = truth[truth["sample_type"] == "plasma"]
    tf = plasma[["sample_id", "patient_id", "timepoint_days", "tumour_fraction"]].assign(
        tf_lower=0.0, tf_upper=1.0, tf_detected=plasma["tumour_fraction"] > 0.03)
    tf.to_csv(tmp_path / "tf.tsv", sep="\t", index=False)
    pd.DataFrame({"sample_id": plasma["sample_id"], "patient_id": plasma["patient_id"],
                  "timepoint_days": plasma["timepoint_days"], "gene": "ERBB2",
                  "plasma_copy_number": plasma["erbb2_plasma_copy_number"],
                  "tumour_copy_number": plasma["erbb2_tumour_copy_number"]}
                 ).to_csv(tmp_path / "erbb2.tsv", sep="\t", index=False)
    lod = 5e-4
    mrd = plasma[["sample_id", "patient_id", "timepoint_days"]].assign(
        n_variants=50, informative_molecules=50_000, mutant_molecules=0,
        background_expected=5.0, tumour_fraction=plasma["tumour_fraction"].where(
            plasma["tumour_fraction"] > lod, 0.0), tf_lower=0.0, tf_upper=1.0, p_value=0.5,
        lod95=lod, status=np.where(plasma["tumour_fraction"] > lod, "detected", "not_detected"),
        note="")
    mrd.to_csv(tmp_path / "mrd.tsv", sep="\t", index=False)
    tables = build_cohort_tables(tmp_path / "tf.tsv", tmp_path / "erbb2.tsv", None,
                                 cohort / "clinical.tsv",
                                 cohort / "samples.tsv", mrd=tmp_path / "mrd.tsv")
    assert list(tables.draws.columns) == DRAW_METRICS_COLUMNS + DRAW_MRD_COLUMNS
    assert list(tables.dynamics.columns) == (DYNAMICS_COLUMNS + DYNAMICS_MRD_COLUMNS
                                             + BURDEN_LOD_COLUMNS)
    assert tables.dynamics["mrd_response"].isin(
        ["clearance", "response", "rise", "stable", "not_evaluable"]).all()
    rows = cohort_survival(tables.burden, tables.dynamics).table()
    mrd_rows = rows[rows["analysis"].str.contains("mrd")]
    assert {"ttf_landmark_mrd_response", "ttf_landmark_mrd_clearance", "ttf_cox_mrd_tf_zero",
            "ttf_cox_mrd_tf_left_censored"} <= set(mrd_rows["analysis"])
    censored = mrd_rows.set_index("analysis").loc["ttf_cox_mrd_tf_left_censored"]
    assert censored["n"] >= 20
    her2 = rows.set_index("analysis").loc[["ttf_cox_her2_burden_zero",
                                           "ttf_cox_her2_burden_left_censored"]]
    # Only the patients with a HER2 burden (variants absent here: HER2-mutant ones are NA).
    assert (her2["n"] >= 10).all() and her2["hazard_ratio"].notna().all()


def test_her2_burden_below_lod_left_censored_by_hand():
    """A baseline HER2 burden the pooled call did not detect is set to the draw's LoD95 x the
    patient's HER2 burden per unit TF (from its draws with a detected copy-number TF), beside
    today's zero; the Cox rows fit exactly those values."""
    from lifelines import CoxPHFitter

    from plasmatrack.cohort.burden_lod import (ASSUMED, COHORT, OWN, add_burden_lod,
                                               burden_lod_sensitivity)

    # (patient, tumour_fraction, tf_detected, her2_burden) of every used draw.
    draws = pd.DataFrame([
        ("A", 0.20, True, 0.8), ("A", 0.10, True, 0.5), ("A", 0.01, False, 0.3),  # k = 4.5
        ("B", 0.10, True, 0.0),                                 # HER2-negative: k = 0
        ("C", 0.02, False, 0.1),                                # no detected TF: cohort k
        ("D", 0.30, True, 0.6), ("D", 0.2, True, None),         # k = 2
        ("E", 0.05, True, 0.1),                                 # k = 2
        ("F", 0.10, True, 0.6), ("G", 0.10, True, 0.3), ("H", 0.05, True, 0.05)],
        columns=["patient_id", "tumour_fraction", "tf_detected", "her2_burden"])
    patients = list("ABCDEFGH")
    status = ["not_detected", "not_detected", "not_detected", "detected", "detected",
              "detected", "not_detected", "detected"]
    lod = [0.002, 0.001, 0.004, 0.001, 0.001, 0.001, 0.003, 0.001]
    dyn = add_burden_lod(pd.DataFrame({"patient_id": patients, "mrd_status_baseline": status,
                                       "mrd_lod95_baseline": lod}), draws)
    k = dict(zip(patients, [4.5, 0.0, 2.5, 2.0, 2.0, 6.0, 3.0, 1.0]))  # C: median of A,D-H
    assert dyn["mrd_her2_per_tf"].tolist() == pytest.approx([k[p] for p in patients])
    assert dyn["mrd_her2_per_tf_source"].tolist() == [OWN, OWN, COHORT] + [OWN] * 5
    assert dyn["mrd_her2_burden_lod_baseline"].tolist() == pytest.approx(
        [0.009, 0.0, 0.010, 0.002, 0.002, 0.006, 0.009, 0.001])
    burden = pd.DataFrame({"patient_id": patients,
                           "her2_burden": [0.004, 0.0, 0.02, 0.5, 0.1, 0.7, 0.01, 0.05],
                           "ttf_months": [30, 25, 9, 6, 14, 3, 12, 20],
                           "ttf_event": [1, 0, 1, 1, 1, 1, 1, 0]})
    rows = pd.DataFrame(burden_lod_sensitivity(burden, dyn, "ttf").rows).set_index("analysis")
    assert list(rows.index) == ["ttf_cox_her2_burden_zero", "ttf_cox_her2_burden_left_censored"]
    assert rows["note"].str.contains("4 of 8 baselines below the LoD").all()
    zero = [0.0, 0.0, 0.0, 0.5, 0.1, 0.7, 0.0, 0.05]
    at_lod = [0.009, 0.0, 0.010, 0.5, 0.1, 0.7, 0.009, 0.05]
    for name, values in (("ttf_cox_her2_burden_zero", zero),
                         ("ttf_cox_her2_burden_left_censored", at_lod)):
        frame = pd.DataFrame({"x": np.log(np.array(values) + 0.01), "t": burden["ttf_months"],
                              "e": burden["ttf_event"]})
        hr = float(np.exp(CoxPHFitter().fit(frame, "t", "e").params_["x"]))
        assert rows.loc[name, "hazard_ratio"] == pytest.approx(hr, rel=1e-4)
        assert rows.loc[name, "n"] == 8 and rows.loc[name, "events"] == 6
    # No patient with a HER2 alteration anywhere: one altered copy per tumour genome, said so.
    none = add_burden_lod(dyn[["patient_id", "mrd_status_baseline", "mrd_lod95_baseline"]]
                          .iloc[:1], draws.iloc[3:5])
    assert none["mrd_her2_per_tf_source"].iloc[0] == ASSUMED
    assert none["mrd_her2_burden_lod_baseline"].iloc[0] == pytest.approx(0.002)
