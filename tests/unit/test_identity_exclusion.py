"""Draws that fail sample identity are left out downstream (issue 22): the one contract
(``qc.identity_exclusion``), the cohort stage (kept in draw_metrics with the reason, left out of
burden and dynamics) and the clonal stage (not fitted, named in the tree note). In each, the
other draws' numbers equal those of a run without the swapped draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.clonal.pipeline import ClonalSettings, run_pipeline
from plasmatrack.cohort.pipeline import CohortInputs, cohort_tables
from plasmatrack.errors import InputError
from plasmatrack.qc.identity_exclusion import LEFT_OUT, left_out_samples, read_left_out


def identity_samples(rows):
    """rows: (sample, patient, identity_ok, best_match)"""
    return pd.DataFrame([{"sample_id": s, "patient_id": p, "sample_type": "plasma",
                          "identity_ok": ok, "identity_status": "pass" if ok else "fail",
                          "best_match": b, "contamination": 0.001, "identity_reason": ""}
                         for s, p, ok, b in rows])


def test_contract_names_failed_samples_and_their_best_match(tmp_path):
    table = identity_samples([("A1", "A", True, "A2"), ("A2", "A", False, "B1"),
                              ("B1", "B", True, "A2"), ("C1", "C", False, "")])
    assert left_out_samples(table) == {"A2": f"{LEFT_OUT} (best match B1)", "C1": LEFT_OUT}
    path = tmp_path / "identity_samples.tsv"
    table.to_csv(path, sep="\t", index=False)
    assert read_left_out(path) == left_out_samples(table)
    assert read_left_out(None) == {} and read_left_out("") == {}


def test_contract_errors_name_file_row_and_column(tmp_path):
    path = tmp_path / "identity_samples.tsv"
    with pytest.raises(InputError, match="identity table not found"):
        read_left_out(path)
    identity_samples([("A1", "A", True, "A2")]).drop(columns="best_match").to_csv(
        path, sep="\t", index=False)
    with pytest.raises(InputError, match="lacks column.*best_match"):
        read_left_out(path)
    table = identity_samples([("A1", "A", True, "A2"), ("A2", "A", True, "A1")])
    table["identity_ok"] = ["true", "maybe"]
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"row 3, column 'identity_ok': 'maybe'"):
        read_left_out(path)


def _cohort_inputs(drop=()):
    """Patient A: baseline A1 (day -5, TF 0.2), on treatment A2 (day 30, TF 0.001: reads as
    cleared) and A3 (day 60, TF 0.15); B: B1 (day 0), B2 (day 40)."""
    rows = [("A1", "A", -5, 0.2, True), ("A2", "A", 30, 0.001, False),
            ("A3", "A", 60, 0.15, True), ("B1", "B", 0, 0.3, True), ("B2", "B", 40, 0.05, True)]
    rows = [r for r in rows if r[0] not in drop]
    tf = pd.DataFrame([{"sample_id": s, "patient_id": p, "timepoint_days": d,
                        "tumour_fraction": t, "tf_detected": det} for s, p, d, t, det in rows])
    erbb2 = pd.DataFrame({"sample_id": tf["sample_id"], "patient_id": tf["patient_id"],
                          "gene": "ERBB2", "plasma_copy_number": 2 + 10 * tf["tumour_fraction"]})
    samples = tf[["sample_id", "patient_id", "timepoint_days"]].assign(sample_type="plasma")
    return CohortInputs(tumour_fraction=tf, erbb2=erbb2, variants=None, samples=samples,
                        clinical=None, sources={})


def test_cohort_keeps_the_swapped_draw_listed_and_leaves_it_out_of_dynamics():
    left_out = {"A2": f"{LEFT_OUT} (best match B1)"}
    inputs = _cohort_inputs()
    inputs.left_out = left_out
    got = cohort_tables(inputs)
    ref = cohort_tables(_cohort_inputs(drop=("A2",)))
    draws = got.draws.set_index("sample_id")
    assert list(got.draws.columns[-2:]) == ["note", "excluded"]
    assert draws["excluded"].to_dict() == {"A1": False, "A2": True, "A3": False, "B1": False,
                                           "B2": False}
    assert draws.at["A2", "note"].startswith("left out: failed identity (best match B1)")
    # every other draw's numbers and notes are those of a run without the swapped draw
    pd.testing.assert_frame_equal(got.draws[~got.draws["excluded"]].drop(columns="excluded")
                                  .reset_index(drop=True), ref.draws)
    dyn = got.dynamics.set_index("patient_id")
    # without the exclusion A2 would be the on-treatment draw and read as clearance
    assert dyn.at["A", "on_treatment_sample_id"] == "A3"
    assert dyn.at["A", "molecular_response"] != "clearance"
    assert "A2 left out: failed identity (best match B1)" in dyn.at["A", "note"]
    assert "A2 left out" in got.burden.set_index("patient_id").at["A", "note"]
    other = ["note"]
    pd.testing.assert_frame_equal(got.dynamics.drop(columns=other), ref.dynamics.drop(columns=other))
    pd.testing.assert_frame_equal(got.burden.drop(columns=other), ref.burden.drop(columns=other))
    assert any("A2 left out" in w for w in got.warnings)


def test_cohort_without_identity_is_unchanged():
    plain = cohort_tables(_cohort_inputs())
    assert "excluded" not in plain.draws
    inputs = _cohort_inputs()
    inputs.left_out = {}
    checked = cohort_tables(inputs)
    assert not checked.draws["excluded"].any()
    pd.testing.assert_frame_equal(checked.draws.drop(columns="excluded"), plain.draws)


def _write_tracked(path, drop=(), seed=5):
    """Patient X: trunk (6 SNVs, CCF 1) and a subclone (5 SNVs, CCF 0.4) in draws X_D1-X_D3 at
    TF 0.3, 0.35, 0.25; X_D4 (day 80, TF 0.3 by its copy number) is another person's blood: no
    mutant fragment. Patient Y: one clone, two draws. 800x, binomial counts."""
    rng = np.random.default_rng(seed)
    draws = {"X": {"X_D1": (0, 0.3), "X_D2": (30, 0.35), "X_D3": (50, 0.25), "X_D4": (80, 0.3)},
             "Y": {"Y_D1": (0, 0.2), "Y_D2": (40, 0.1)}}
    specs = {"X": [("chr1", 1000 + 100 * i, 1.0) for i in range(6)]
             + [("chr2", 1000 + 100 * i, 0.4) for i in range(5)],
             "Y": [("chr3", 1000 + 100 * i, 1.0) for i in range(6)]}
    rows, tf = [], []
    for patient, samples in draws.items():
        for sid, (day, t) in samples.items():
            tf.append({"sample_id": sid, "tumour_fraction": t})
            for chrom, pos, ccf in specs[patient]:
                vaf = 0.0 if sid == "X_D4" else t * ccf / 2
                alt = int(rng.binomial(800, vaf))
                rows.append({"patient_id": patient, "sample_id": sid, "sample_type": "plasma",
                             "timepoint_days": day, "chrom": chrom, "pos": pos, "ref": "C",
                             "alt": "T", "gene": "G" + chrom[3:], "ref_count": 800 - alt,
                             "alt_count": alt, "category": "somatic", "status": "detected"})
    tracked = pd.DataFrame(rows)
    tracked[~tracked["sample_id"].isin(drop)].to_csv(path / "tracked.tsv", sep="\t", index=False)
    pd.DataFrame(tf).to_csv(path / "tf.tsv", sep="\t", index=False)


def test_clonal_does_not_fit_the_swapped_draw_and_says_so(tmp_path):
    settings = ClonalSettings.from_config({"copy_number": "neutral", "tumour_content": "cnv"})
    (tmp_path / "left").mkdir()
    (tmp_path / "ref").mkdir()
    _write_tracked(tmp_path / "left")
    _write_tracked(tmp_path / "ref", drop=("X_D4",))
    identity = tmp_path / "identity_samples.tsv"
    identity_samples([("X_D1", "X", True, "X_D2"), ("X_D4", "X", False, "Z_D1"),
                      ("Y_D1", "Y", True, "Y_D2")]).to_csv(identity, sep="\t", index=False)
    got = run_pipeline(tmp_path / "left" / "tracked.tsv", tmp_path / "left" / "tf.tsv", {},
                       settings=settings, identity=identity)
    ref = run_pipeline(tmp_path / "ref" / "tracked.tsv", tmp_path / "ref" / "tf.tsv", {},
                       settings=settings)
    assert "X_D4" not in set(got["prevalence"]["sample_id"])
    notes = got["tree"].drop_duplicates("patient_id").set_index("patient_id")["note"]
    assert "X_D4 left out: failed identity (best match Z_D1)" in notes["X"]
    assert "left out" not in notes["Y"]
    # two clones found in X (the swapped draw, with no mutant fragment, is not a 'cleared' time
    # point), and every number equals the run without the swapped draw
    assert got["tree"].groupby("patient_id").size()["X"] == 2
    for key in ("variants", "prevalence", "events"):
        pd.testing.assert_frame_equal(got[key], ref[key])
    pd.testing.assert_frame_equal(got["tree"].drop(columns="note"),
                                  ref["tree"].drop(columns="note"))
    # the same draw, not left out, changes the fit: the test can fail
    plain = run_pipeline(tmp_path / "left" / "tracked.tsv", tmp_path / "left" / "tf.tsv", {},
                         settings=settings)
    assert "X_D4" in set(plain["prevalence"]["sample_id"])


def test_report_leaves_the_draw_out_of_trajectories_and_says_so_in_red(tmp_path):
    from plasmatrack.io import read_tsv
    from plasmatrack.report.pages import build_cohort_page, build_patient_page
    from plasmatrack.report.sources import Sources, StageData
    from plasmatrack.report.synthetic import write_synthetic_results

    run = write_synthetic_results(tmp_path / "run", n_patients=6, seed=3)
    qc = read_tsv(run.results / "qc" / "qc_summary.tsv")
    swapped = sorted(qc.loc[(qc["patient_id"] == "P002") & (qc["sample_type"] == "plasma"),
                            "sample_id"])[1]
    qc["identity_ok"] = qc["sample_id"] != swapped
    qc["best_match"] = ["P001_X" if s == swapped else "" for s in qc["sample_id"]]
    qc["contamination"] = 0.001
    qc.to_csv(run.results / "qc" / "qc_summary.tsv", sep="\t", index=False)  # our own copy
    data = StageData(Sources.from_results_dir(run.results, samples_sheet=run.samples,
                                              clinical_sheet=run.clinical))
    html = build_patient_page(data, "P002", tmp_path / "P002.html").read_text()
    warning = (f'<li class="warn">{swapped} left out: failed identity (best match P001_X): not '
               "used in trajectories, clones or cohort analyses</li>")
    assert html.count(warning) == 3  # summary, tumour fraction, tracked variants
    for name in ("tracked_variants", "tumour_fraction"):
        plotted = read_tsv(tmp_path / "P002_data" / f"{name}.tsv")
        assert swapped not in set(plotted["sample_id"]) and len(plotted)
    assert "left out" not in build_patient_page(data, "P001", tmp_path / "P001.html").read_text()
    assert warning in build_cohort_page(data, tmp_path / "cohort.html").read_text()


def _mrd_cohort(seed=8):
    """Patients P1 and P2 with 60 tumour sites each (background 1e-4), a normal each, counted at
    every site (depth 2000). P1's draws carry residual disease at TF 2e-3 (a few mutants per site
    pooled); P2_D2 is P1's blood at TF 0.03 put in P2's tube (a swap): at P1's sites it shows
    ~1.5 % mutants, under the 5 % real-variant cut, so as a control it would raise P1's
    background."""
    from plasmatrack.mrd.sites import finish_sites

    rng = np.random.default_rng(seed)
    sites = finish_sites(pd.DataFrame(
        [{"patient_id": p, "chrom": "chr7", "pos": 1000 * k + 10 * i + 1, "ref": "G", "alt": "A",
          "ccf": 1.0, "multiplicity": 1.0, "found_in": ""}
         for k, p in enumerate(("P1", "P2")) for i in range(60)]))
    draws = pd.DataFrame([("P1_N", "P1", "normal", None), ("P1_D1", "P1", "plasma", 0),
                          ("P1_D2", "P1", "plasma", 30), ("P2_N", "P2", "normal", None),
                          ("P2_D1", "P2", "plasma", 0), ("P2_D2", "P2", "plasma", 30)],
                         columns=["sample_id", "patient_id", "sample_type", "timepoint_days"])
    tumour = {"P1_D1": ("P1", 2e-3), "P1_D2": ("P1", 2e-3), "P2_D2": ("P1", 0.03)}
    frames = []
    for sid in draws["sample_id"]:
        owner, tf = tumour.get(sid, ("", 0.0))
        rate = 1e-4 + np.where(sites["patient_id"] == owner, tf / 2, 0.0)
        frames.append(pd.DataFrame({"sample_id": sid, "site_id": sites["site_id"],
                                    "mutant": rng.binomial(2000, rate), "depth": 2000}))
    return sites, pd.concat(frames, ignore_index=True), draws


def test_mrd_swapped_draw_is_nobodys_control_and_its_call_says_why():
    from plasmatrack.mrd.call import TUMOUR_INFORMED, call_cohort
    from plasmatrack.mrd.settings import MrdSettings

    settings = MrdSettings(n_simulations=300)
    sites, counts, draws = _mrd_cohort()
    left_out = {"P2_D2": f"{LEFT_OUT} (best match P1_D1)"}
    got = call_cohort(sites, counts, draws, settings, TUMOUR_INFORMED, left_out)
    keep = counts["sample_id"] != "P2_D2"
    ref = call_cohort(sites, counts[keep], draws[draws["sample_id"] != "P2_D2"], settings,
                      TUMOUR_INFORMED)
    plain = call_cohort(sites, counts, draws, settings, TUMOUR_INFORMED)
    row = got.set_index("sample_id").loc["P2_D2"]
    assert bool(row["excluded"]) and row["note"].startswith(f"{LEFT_OUT} (best match P1_D1)")
    assert list(got.columns[-2:]) == ["note", "excluded"]
    # every other draw's call is that of a run without the swapped draw
    pd.testing.assert_frame_equal(got[~got["excluded"]].drop(columns="excluded")
                                  .reset_index(drop=True), ref)
    # used as a control, the swapped draw (P1's own tumour) raises P1's background ~50-fold
    # and hides its residual disease (136 mutants against 8.7 expected without it)
    p1 = {name: t.set_index("sample_id").loc["P1_D1"] for name, t in (("left out", got),
                                                                      ("used", plain))}
    assert p1["left out"]["status"] == "detected" and p1["used"]["status"] == "not_detected"
    assert p1["used"]["background_expected"] > 10 * p1["left out"]["background_expected"]
