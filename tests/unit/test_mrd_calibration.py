"""Calibration of the residual-disease call on two independently written generators (the
issue's done-when figures): specificity >= 99 % on TF-0 draws, sensitivity >= 95 % on draws a
Poisson test at the true background detects with >= 95 % power, median lod95 within 2x of that
test's LoD95, TF within 2-fold of the truth for >= 90 % of detected draws.

Generator 1 is ``plasmatrack.simulate.mrd`` (binomial molecules, context-class background,
cross-patient controls, CHIP in some tissue lists). Generator 2 is written here, separately:
Poisson mutant counts, log-normal depths, gamma-distributed site backgrounds, subclonal and
gained variants listed with their ccf / multiplicity, germline variants in some lists, and only
healthy donors and normals as controls of the other patients' sites."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.mrd.calibration import calibration_summary, truth_bounds
from plasmatrack.mrd.call import TUMOUR_INFORMED, call_cohort
from plasmatrack.mrd.settings import MrdSettings
from plasmatrack.mrd.sites import finish_sites
from plasmatrack.simulate.mrd import MrdCohortSettings, simulate_mrd_cohort

# 600 simulations resolve p down to 1/601, enough for the 0.005 threshold, and keep this fast.
SETTINGS = MrdSettings(n_simulations=600)
TF_GRID = (0.0, 0.0, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def _generator_two(seed: int, patients: int = 10, draws: int = 7, tf_grid=TF_GRID):
    """An independent regime (see the module docstring). Returns sites (with truth), counts,
    draws (with truth_tf)."""
    rng = np.random.default_rng(1000 + seed)
    site_rows, draw_rows = [], []
    for p in range(patients):
        pid = f"Q{p:02d}"
        n = int(rng.integers(40, 121))
        kind = np.array(["real"] * n + ["false"] * int(rng.integers(2, 6))
                        + (["germline"] if rng.random() < 0.4 else []))
        ccf = np.where(rng.random(kind.size) < 0.2, 0.5, 1.0)
        mult = np.where(rng.random(kind.size) < 0.15, 2.0, 1.0)
        weight = np.where(kind == "real", ccf * mult / 2, 0.0)
        for i in range(kind.size):
            site_rows.append({"patient_id": pid, "chrom": "chr7", "pos": 10_000 * p + 37 * i + 1,
                              "ref": "G", "alt": "A", "ccf": ccf[i], "multiplicity": mult[i],
                              "found_in": "", "kind": kind[i], "truth_weight": weight[i],
                              "truth_rate": rng.gamma(1.5, 1e-4 / 1.5)})
        draw_rows.append((f"{pid}_WBC", pid, "normal", None, 0.0))
        for d, tf in enumerate(rng.choice(tf_grid, draws)):
            draw_rows.append((f"{pid}_T{d}", pid, "plasma", 30 * d, float(tf)))
    for h in range(6):
        draw_rows.append((f"HD{h}", f"HD{h}", "plasma", 0, 0.0))
    sites = pd.DataFrame(site_rows)
    sites["site_id"] = [f"chr7:{pos}:G>A" for pos in sites["pos"]]
    draws = pd.DataFrame(draw_rows, columns=["sample_id", "patient_id", "sample_type",
                                             "timepoint_days", "truth_tf"])
    return sites, _poisson_counts(rng, sites, draws), draws


def _poisson_counts(rng, sites: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for d in draws.itertuples(index=False):
        # Healthy donors and normals are counted at every site; a patient's draws at its own.
        mine = sites if d.sample_type == "normal" or d.patient_id.startswith("HD") else (
            sites[sites["patient_id"] == d.patient_id])
        depth = np.round(rng.lognormal(np.log(1200), 0.6, len(mine))).astype(int)
        own = (mine["patient_id"] == d.patient_id).to_numpy()
        germline = own & (mine["kind"] == "germline").to_numpy()
        lam = depth * (mine["truth_rate"].to_numpy() + own * d.truth_tf
                       * mine["truth_weight"].to_numpy())
        mutant = np.where(germline, rng.binomial(depth, 0.5), np.minimum(rng.poisson(lam), depth))
        frames.append(pd.DataFrame({"sample_id": d.sample_id, "site_id": mine["site_id"].values,
                                    "mutant": mutant, "depth": depth}))
    return pd.concat(frames, ignore_index=True)


def _capture_length_bins(seed: int, sites: pd.DataFrame, counts: pd.DataFrame,
                         draws: pd.DataFrame) -> pd.DataFrame:
    """Fragment-length bins (< 150 bp) for ``_generator_two``'s counts, from capturesim's length
    models (its own draw per sample: plasma cfDNA with tumour fragments ~145 bp against ~167 bp,
    normals sheared), independent of ``plasmatrack.simulate``'s. A Poisson count split by its
    two means: the tumour's molecules (TF x weight) and the errors (the rate)."""
    from plasmatrack.capturesim.library import nucleosomal, sheared

    rng = np.random.default_rng(5000 + seed)
    truth = draws.set_index("sample_id")
    by_site = sites.set_index("site_id")
    parts = []
    for sample, c in counts.groupby("sample_id", sort=False):
        d = truth.loc[sample]
        healthy = (sheared(rng) if d["sample_type"] == "normal" else nucleosomal(rng, False)).pmf
        short = (float(healthy[:150].sum()), float(nucleosomal(rng, True).pmf[:150].sum()))
        s = by_site.loc[c["site_id"]]
        own = (s["patient_id"] == d["patient_id"]).to_numpy() & (s["kind"] != "germline").to_numpy()
        tumour = own * d["truth_tf"] * s["truth_weight"].to_numpy()
        from_tumour = rng.binomial(c["mutant"], tumour / (tumour + s["truth_rate"].to_numpy()))
        known = [rng.binomial(n, 0.95) for n in (from_tumour, c["mutant"] - from_tumour,
                                                 c["depth"] - c["mutant"])]
        shorts = [rng.binomial(known[0], short[1]), rng.binomial(known[1], short[0]),
                  rng.binomial(known[2], short[0])]
        parts.append(c.assign(depth_short=sum(shorts), depth_sized=sum(known),
                              mutant_short=shorts[0] + shorts[1], mutant_sized=known[0] + known[1]))
    return pd.concat(parts).loc[counts.index]


def _evaluate(sites, counts, draws, bound_sites):
    calls = call_cohort(finish_sites(sites), counts, draws, SETTINGS, TUMOUR_INFORMED)
    bounds = truth_bounds(bound_sites, counts, draws, SETTINGS.max_p_value)
    return calls, bounds


def _pooled(results):
    # Sample IDs repeat across seeds: make them unique before the calls meet their bounds.
    calls = pd.concat([c.assign(sample_id=f"{i}:" + c["sample_id"])
                       for i, (c, _) in enumerate(results)], ignore_index=True)
    bounds = pd.concat([b.assign(sample_id=f"{i}:" + b["sample_id"])
                        for i, (_, b) in enumerate(results)], ignore_index=True)
    return calibration_summary(calls, bounds), calls


def _check_detection(summary):
    assert summary["n_powered"] >= 60, summary
    assert summary["sensitivity_powered"] >= 0.95, summary
    assert 0.5 <= summary["lod95_ratio_median"] <= 2.0, summary
    assert summary["tf_within_2fold"] >= 0.90, summary


def _check_specificity(summary):
    # Hundreds of TF-0 draws: a 1 % false-positive rate would show as about four of them.
    assert summary["n_null"] >= 300, summary
    assert summary["specificity"] >= 0.99, summary


def _generator_one_runs(seeds, **size):
    results = []
    for seed in seeds:
        cohort = simulate_mrd_cohort(seed, MrdCohortSettings(**size))
        sites = cohort.sites
        results.append(_evaluate(sites, cohort.counts, cohort.draws,
                                 sites[sites["kind"] != "chip"]))
    return _pooled(results)


def _generator_two_runs(seeds, **size):
    results = []
    for seed in seeds:
        sites, counts, draws = _generator_two(seed, **size)
        results.append(_evaluate(sites, counts, draws, sites[sites["kind"] != "germline"]))
    return _pooled(results)


@pytest.fixture(scope="module")
def generator_one():
    return _generator_one_runs((1, 2, 3), patients=12, cleared_fraction=0.5)


@pytest.fixture(scope="module")
def generator_two():
    return _generator_two_runs((1, 2, 3))


def test_simulator_regime_detects_what_the_bound_can(generator_one):
    _check_detection(generator_one[0])


def test_independent_regime_detects_what_the_bound_can(generator_two):
    _check_detection(generator_two[0])


def test_simulator_regime_specificity():
    summary, _ = _generator_one_runs((11, 12, 13), patients=12, draws=12, cleared_fraction=1.0)
    _check_specificity(summary)


def test_independent_regime_specificity():
    summary, _ = _generator_two_runs((11, 12, 13), draws=14, tf_grid=(0.0,))
    _check_specificity(summary)


def test_germline_and_chip_variants_are_left_out_with_a_note(generator_one, generator_two):
    for _, calls in (generator_one, generator_two):
        noted = calls["note"].str.contains("outlier variants left out", na=False)
        assert noted.sum() >= 5


def test_simulator_mode_writes_the_tumour_informed_cohort(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "plasmatrack", "simulate", "--mrd", "--out",
                    str(tmp_path), "--patients", "4", "--draws", "6", "--seed", "3"], check=True)
    variants = pd.read_csv(tmp_path / "tumour_variants.tsv", sep="\t")
    truth = pd.read_csv(tmp_path / "truth" / "variants.tsv", sep="\t")
    draws = pd.read_csv(tmp_path / "truth" / "draws.tsv", sep="\t")
    assert len(variants) == len(truth)
    per_patient = truth.groupby("patient_id")["kind"].value_counts().unstack(fill_value=0)
    assert per_patient["real"].between(40, 120).all()
    assert per_patient["false"].between(1, 4).all()  # a few false tissue variants per list
    tf = draws.loc[draws["sample_id"].str.contains("_D"), "tumour_fraction"]
    assert tf.max() <= 1e-2 and (tf == 0).any() and ((tf > 0) & (tf < 1e-3)).sum() >= 3
    counts = pd.read_csv(tmp_path / "counts.tsv", sep="\t")
    assert counts.groupby("sample_id").size().nunique() == 1  # every sample at every site
