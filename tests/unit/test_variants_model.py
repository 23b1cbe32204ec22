"""Background model, status, classification and SNV tumour fraction on tables built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.variants.background import (BackgroundSettings, build_background, choose_controls,
                                             patient_background, site_key, substitution_class)
from plasmatrack.variants.classify import CallSettings, call_observations, classify_variants
from plasmatrack.variants.snv_tf import clonal_set, snv_tumour_fraction

SAMPLES = [  # sample, patient, type
    ("A_N", "A", "normal"), ("A_1", "A", "plasma"), ("A_2", "A", "plasma"),
    ("B_N", "B", "normal"), ("B_1", "B", "plasma"),
    ("C_N", "C", "normal"), ("C_1", "C", "plasma"),
    ("D_N", "D", "normal"), ("D_1", "D", "plasma"),
]


def _obs(site, counts):
    chrom, pos, ref, alt = site
    return [{"chrom": chrom, "pos": pos, "ref": ref, "alt": alt, "sample_id": s, "patient_id": p,
             "sample_type": t, "alt_count": a, "depth": d}
            for (s, p, t), (a, d) in zip(SAMPLES, counts)]


def test_substitution_classes_are_strand_collapsed():
    assert substitution_class("G", "A") == substitution_class("C", "T") == "C>T"
    assert substitution_class("A", "C") == "T>G"
    assert substitution_class("A", "AT") == "ins" and substitution_class("AT", "A") == "del"
    sheet = pd.DataFrame(SAMPLES, columns=["sample_id", "patient_id", "sample_type"])
    assert choose_controls(sheet, 5) == ["A_N", "B_N", "C_N", "D_N", "A_1"]


@pytest.fixture
def cohort_tables():
    somatic = ("chr1", 100, "C", "T")  # A's variant: must not enter its own background
    noisy = ("chr1", 200, "G", "T")  # 1% error in every sample: blacklisted
    clean = ("chr1", 300, "A", "C")  # a few errors
    shared = ("chr1", 400, "T", "G")  # germline het in D (D does not track it)
    sites = pd.DataFrame([(*somatic, "A"), (*noisy, "A"), (*clean, "A"), (*shared, "A")],
                         columns=["chrom", "pos", "ref", "alt", "patients"])
    rows = []
    rows += _obs(somatic, [(0, 500), (40, 1000), (25, 1000), (0, 800), (1, 1000), (0, 800),
                           (0, 1000), (0, 900), (0, 1000)])
    rows += _obs(noisy, [(5, 500), (10, 1000), (9, 1000), (8, 800), (11, 1000), (7, 800),
                         (10, 1000), (9, 900), (10, 1000)])
    rows += _obs(clean, [(0, 500), (0, 1000), (0, 1000), (1, 800), (0, 1000), (0, 800),
                         (0, 1000), (0, 900), (0, 1000)])
    rows += _obs(shared, [(0, 500), (0, 1000), (0, 1000), (0, 800), (0, 1000), (0, 800),
                          (0, 1000), (450, 900), (500, 1000)])
    return sites, pd.DataFrame(rows)


def test_background_excludes_carriers_and_real_variants(cohort_tables):
    sites, obs = cohort_tables
    controls = [s for s, _, _ in SAMPLES]
    params = BackgroundSettings(prior_strength=2000)
    bg, threshold, ctrl = build_background(sites, obs, controls, params)
    bg = bg.set_index(site_key(bg))
    som = bg.loc["chr1:100:C>T"]
    # A carries it (65 of 2000 plasma fragments vs ~0 elsewhere): A's plasma is not a control;
    # A's normal is (white cells hold no tumour DNA).
    assert som["carriers"] == "A"
    assert som["n_controls"] == 7 and som["control_alt"] == 1
    assert som["control_depth"] == 500 + 800 + 1000 + 800 + 1000 + 900 + 1000
    assert not som["blacklisted"]
    noisy = bg.loc["chr1:200:G>T"]
    # "Discovered" in A, but at the level of every other sample: not carried, blacklisted.
    assert noisy["carriers"] == "" and noisy["n_controls"] == 9
    assert noisy["blacklisted"] and "control_error_rate" in noisy["blacklist_reason"]
    # The noisy site keeps (nearly) its own control rate: 10 pseudo-fragments of prior only.
    assert noisy["background_rate"] == pytest.approx(
        noisy["control_alt"] / noisy["control_depth"], rel=0.01)
    shared = bg.loc["chr1:400:T>G"]
    # D's germline het is a real variant of D, not an error: left out (and flagged as common
    # when seen in >= 2 unrelated controls, as here: D's normal and plasma).
    assert shared["n_control_high_vaf"] == 2 and shared["control_alt"] == 0
    assert "common_in_controls" in shared["blacklist_reason"]
    clean = bg.loc["chr1:300:A>C"]
    assert clean["background_rate"] < 1e-3
    assert clean["bg_alpha"] == pytest.approx(2000 * clean["prior_rate"] + 1)
    assert threshold["threshold"] <= params.max_p_value
    assert threshold["control_fraction_negative"] >= 0.95
    assert set(ctrl["role"]) == {"control", "high_vaf"}


def test_patient_background_removes_own_contributions(cohort_tables):
    sites, obs = cohort_tables
    controls = [s for s, _, _ in SAMPLES]
    params = BackgroundSettings()
    bg, _, ctrl = build_background(sites.assign(patients=""), obs, controls, params)
    own = patient_background(bg, ctrl, "B", params)
    full = bg.set_index(site_key(bg))
    # Nobody carries chr1:100 now, so all samples are controls; B contributed 1 alt of 1800
    # fragments there: removed for B's own test.
    assert own.loc["chr1:100:C>T", "bg_alpha"] == pytest.approx(
        full.loc["chr1:100:C>T", "bg_alpha"] - 1)
    assert own.loc["chr1:100:C>T", "bg_beta"] == pytest.approx(
        full.loc["chr1:100:C>T", "bg_beta"] - 1799)
    # D's germline SNP makes the site "common" for others, but not for D itself.
    assert full.loc["chr1:400:T>G", "blacklisted"]
    assert not patient_background(bg, ctrl, "D", params).loc["chr1:400:T>G", "blacklisted"]


def _patient_obs(rows, a=1.0, b=9999.0):
    df = pd.DataFrame(rows, columns=["site_id", "sample_id", "sample_type", "alt_count", "depth",
                                     "ref_fwd", "ref_rev", "alt_fwd", "alt_rev"])
    df["bg_alpha"], df["bg_beta"] = a, b
    df["background_rate"] = a / (a + b)
    return df


def test_status_detected_not_detected_undetermined():
    obs = _patient_obs([
        ("v", "N", "normal", 0, 400, 200, 200, 0, 0),
        ("v", "D1", "plasma", 0, 2000, 1000, 1000, 0, 0),  # absent at baseline, deep
        ("v", "D2", "plasma", 40, 2000, 980, 980, 20, 20),  # 2%: detected
        ("v", "D3", "plasma", 0, 40, 20, 20, 0, 0),  # 40 fragments cannot show 2%
        ("w", "D1", "plasma", 0, 0, 0, 0, 0, 0),  # no coverage at all
    ])
    calls = call_observations(obs, 1e-3, CallSettings()).set_index(["site_id", "sample_id"])
    assert calls.loc[("v", "D2"), "status"] == "detected"
    assert calls.loc[("v", "D2"), "vaf"] == pytest.approx(0.02)
    assert calls.loc[("v", "D1"), "status"] == "not_detected"
    assert calls.loc[("v", "D1"), "vaf_in_question"] == pytest.approx(0.02)
    assert calls.loc[("v", "D3"), "status"] == "undetermined"
    assert calls.loc[("v", "N"), "status"] == "not_detected"
    assert calls.loc[("w", "D1"), "status"] == "undetermined"
    assert calls.loc[("w", "D1"), "vaf_in_question"] == 0.01  # never detected: reference VAF


def test_classification_rules():
    rows = []
    def add(site, normal, plasma, strands=None):  # noqa: E306
        a, d = normal
        rows.append((site, "N", "normal", a, d, (d - a) // 2, d - a - (d - a) // 2, a // 2,
                     a - a // 2))
        for i, (a, d) in enumerate(plasma):
            af, ar = strands if strands else (a // 2, a - a // 2)
            rows.append((site, f"D{i}", "plasma", a, d, (d - a) // 2, d - a - (d - a) // 2, af, ar))
    add("germ", (190, 400), [(480, 1000), (510, 1000)])
    add("hom", (398, 400), [(995, 1000), (999, 1000)])
    add("chip", (12, 400), [(25, 1000), (30, 1000)])
    add("som", (0, 400), [(60, 1000), (5, 1000)])
    add("noisy", (4, 400), [(10, 1000), (9, 1000)])
    add("strand", (0, 400), [(30, 1000), (30, 1000)], strands=(30, 0))
    # CHIP-gene variants: the normal (30 fragments) cannot show 1%; present at every draw ...
    add("dnmt3a", (0, 30), [(4, 300), (2, 250)])
    # ... or confidently absent at one draw (a tumour subclone), or in a non-CHIP gene.
    add("tet2_absent", (0, 30), [(4, 300), (0, 3000)])
    add("pik3ca", (0, 30), [(4, 300), (2, 250)])
    obs = _patient_obs(rows)
    obs["gene"] = obs["site_id"].map({"dnmt3a": "DNMT3A", "tet2_absent": "TET2",
                                      "pik3ca": "PIK3CA"}).fillna("TP53")
    calls = call_observations(obs, 1e-3, CallSettings())
    blacklisted = pd.Series({"noisy": True})
    classes = classify_variants(calls, blacklisted, 1e-3, CallSettings()).set_index("site_id")
    assert classes.loc["germ", "category"] == "germline"
    assert classes.loc["hom", "category"] == "germline"
    assert classes.loc["chip", "category"] == "chip"
    assert classes.loc["som", "category"] == "somatic"
    assert classes.loc["som", "variant_filters"] == ""
    assert classes.loc["noisy", "category"] == "artifact"
    assert "blacklisted" in classes.loc["noisy", "variant_filters"]
    assert classes.loc["strand", "category"] == "artifact"
    assert "strand_bias" in classes.loc["strand", "variant_filters"]
    assert classes.loc["dnmt3a", "category"] == "chip"
    assert "chip_gene_unconfirmed" in classes.loc["dnmt3a", "variant_filters"]
    assert classes.loc["tet2_absent", "category"] == "somatic"
    assert classes.loc["pik3ca", "category"] == "somatic"
    # Without a normal: plasma VAFs near 0.5 in every draw -> germline; CHIP outside the CHIP
    # genes is not callable, in a CHIP gene present at every draw it is (conservatively) chip.
    no_normal = calls[calls["sample_type"] != "normal"]
    classes = classify_variants(no_normal, pd.Series(dtype=bool), 1e-3, CallSettings()).set_index(
        "site_id")
    assert classes.loc["germ", "category"] == "germline"
    assert classes.loc["chip", "category"] == "somatic"
    assert classes.loc["dnmt3a", "category"] == "chip"
    assert "chip_gene_unconfirmed" in classes.loc["dnmt3a", "variant_filters"]
    assert classes.loc["tet2_absent", "category"] == "somatic"
    assert classes.loc["pik3ca", "category"] == "somatic"
    assert "no_matched_normal" in classes.loc["som", "variant_filters"]


def _tracked_for_tf(tfs, rng, depth=2000):
    """Clonal SNVs at VAF TF/2, a subclone, an emerging clone, an amplified-allele SNV."""
    variants = {f"clonal{i}": 1.0 for i in range(6)}
    variants.update({"sub": 0.3, "amp": 3.0})
    rows = []
    for s, tf in enumerate(tfs):
        for name, scale in variants.items():
            vaf = min(tf / 2 * scale, 0.99)
            if name == "emerging" and s == 0:
                vaf = 0
            alt = rng.binomial(depth, vaf)
            rows.append({"site_id": name, "patient_id": "P", "sample_id": f"D{s}",
                         "sample_type": "plasma", "timepoint_days": 10 * s, "variant_type": "snv",
                         "category": "somatic", "status": "detected", "alt_count": alt,
                         "depth": depth, "background_rate": 1e-4})
    rows.append({"site_id": "clonal0", "patient_id": "P", "sample_id": "N",
                 "sample_type": "normal", "timepoint_days": None, "variant_type": "snv",
                 "category": "somatic", "status": "not_detected", "alt_count": 0, "depth": 500,
                 "background_rate": 1e-4})
    return pd.DataFrame(rows)


def test_snv_tumour_fraction_recovers_tf_from_the_clonal_cluster():
    rng = np.random.default_rng(3)
    tfs = [0.30, 0.04, 0.12]
    tracked = _tracked_for_tf(tfs, rng)
    assert clonal_set(tracked) == [f"clonal{i}" for i in range(6)]
    tf = snv_tumour_fraction(tracked).set_index("sample_id")
    for s, truth in enumerate(tfs):
        row = tf.loc[f"D{s}"]
        assert row["n_variants"] == 6
        assert row["tf_snv_lower"] <= truth <= row["tf_snv_upper"]
        assert row["tumour_fraction_snv"] == pytest.approx(truth, rel=0.12)
    assert tf.loc["N", "tumour_fraction_snv"] == 0.0
    # Coverage of the interval over repeated draws (quasi-binomial Wilson): about 95%.
    reps = pd.concat([_tracked_for_tf([0.08], np.random.default_rng(100 + rep)).assign(
        patient_id=f"P{rep}") for rep in range(100)], ignore_index=True)
    t = snv_tumour_fraction(reps)
    t = t[t["sample_type"] == "plasma"]
    coverage = np.mean((t["tf_snv_lower"] <= 0.08) & (0.08 <= t["tf_snv_upper"]))
    assert len(t) == 100 and coverage >= 0.9


def test_snv_tumour_fraction_without_somatic_snvs_is_missing():
    tracked = _tracked_for_tf([0.1], np.random.default_rng(0))
    tracked["category"] = "germline"
    tf = snv_tumour_fraction(tracked)
    assert tf["tumour_fraction_snv"].isna().all() and (tf["n_variants"] == 0).all()
