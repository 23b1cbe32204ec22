"""The residual-disease calls in the cohort tables: per-draw detection (draw_metrics), the
molecular response and clearance by the pooled call (dynamics) and their landmark survival
rows (survival.tsv)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
