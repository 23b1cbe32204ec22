"""BAF tumour fraction on germline het SNP counts simulated from a known tumour and TF.

Two generators: ``patient`` draws the counts from the module's own model (beta-binomial around the
odds-scaled major-allele fraction); ``molecule_patient`` builds every fragment one by one (tumour
or normal origin, then the haplotype, then an allele-specific capture efficiency with a per-site
random bias) and shares nothing with the estimator's formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.baf import (
    TF_GRID,
    baf_tumour_fraction,
    fit_baf,
    germline_hets,
)
from plasmatrack.errors import InputError

BIN = 1_000_000
# Tumour layout per chromosome: (bins, [(first bin, last bin + 1, total c, minor m), ...]).
# chr1: single-copy loss (LOH) on the first half; chr2: whole-chromosome copy-neutral LOH (its
# boundary is visible to no copy-number caller, so it spans a whole chromosome here); chr3: a gain
# to 3 copies (2 + 1) on the second half; chr4 balanced; chr5 a focal amplification (state 6).
LAYOUT = {
    "chr1": (40, [(0, 20, 1, 0), (20, 40, 2, 1)]),
    "chr2": (40, [(0, 40, 2, 0)]),
    "chr3": (40, [(0, 20, 2, 1), (20, 40, 3, 1)]),
    "chr4": (40, [(0, 40, 2, 1)]),
    "chr5": (40, [(0, 15, 2, 1), (15, 20, 6, 2), (20, 40, 2, 1)]),
}
BALANCED = {"chr1": (40, [(0, 40, 2, 1)]), "chr2": (40, [(0, 40, 2, 1)]),
            "chr3": (40, [(0, 20, 2, 1), (20, 40, 4, 2)]), "chr4": (40, [(0, 40, 2, 1)])}


def states_table(layout: dict) -> pd.DataFrame:
    """hmm_states rows (0-based half-open bins) with the layout's total copy numbers."""
    rows = []
    for chrom, (n_bins, segs) in layout.items():
        for lo, hi, c, _ in segs:
            for i in range(lo, hi):
                rows.append({"chromosome": chrom, "start": i * BIN, "end": (i + 1) * BIN,
                             "log2": 0.0, "state": c, "amp": c == 6, "expected_log2": 0.0,
                             "posterior": 0.99})
    return pd.DataFrame(rows)


def het_sites(layout: dict, n_sites: int, rng) -> pd.DataFrame:
    """SNP positions spread over the layout, with each one's (c, m) and depth range."""
    chroms = list(layout)
    rows = []
    for i in range(n_sites):
        chrom = chroms[i % len(chroms)]
        n_bins, segs = layout[chrom]
        pos0 = int(rng.integers(0, n_bins * BIN))
        c, m = next((c, m) for lo, hi, c, m in segs if lo * BIN <= pos0 < hi * BIN)
        rows.append({"chrom": chrom, "pos": pos0 + 1, "c": c, "m": m})
    return pd.DataFrame(rows).drop_duplicates(["chrom", "pos"]).reset_index(drop=True)


def tracked_rows(sites: pd.DataFrame, counts: dict[str, tuple[np.ndarray, np.ndarray]],
                 patient: str = "P1") -> pd.DataFrame:
    """tracked_variants.tsv rows: one per site and sample (sample 'N' is the normal)."""
    rows = []
    for t_days, (sid, (alt, n)) in enumerate(counts.items()):
        for i, s in sites.iterrows():
            rows.append({"patient_id": patient, "sample_id": sid,
                         "sample_type": "normal" if sid == "N" else "plasma",
                         "timepoint_days": 30 * t_days, "chrom": s["chrom"], "pos": s["pos"],
                         "ref": "A", "alt": "G", "gene": "", "ref_count": int(n[i] - alt[i]),
                         "alt_count": int(alt[i]), "depth": int(n[i]),
                         "vaf": alt[i] / n[i], "status": "detected", "category": "germline",
                         "filters": "germline_vaf_in_normal", "variant_type": "snv"})
    return pd.DataFrame(rows)


def patient(tfs: dict[str, float], seed: int, layout: dict = LAYOUT, n_sites: int = 80,
            r: float = 0.48, rho: float = 0.002, depth=(300, 800)) -> pd.DataFrame:
    """Counts from the stated model: beta-binomial (ICC rho) around the odds-scaled fraction of
    a randomly phased allele; the normal is tumour-free."""
    rng = np.random.default_rng(seed)
    sites = het_sites(layout, n_sites, rng)
    c, m = sites["c"].to_numpy(), sites["m"].to_numpy()
    on_major = rng.random(len(sites)) < 0.5  # the alt allele's haplotype, fixed per patient
    counts = {}
    for sid, t in {"N": 0.0, **tfs}.items():
        b = (t * (c - m) + 1 - t) / (t * c + 2 * (1 - t))
        x = np.where(on_major, b, 1 - b)
        p = x * r / (x * r + (1 - x) * (1 - r))  # odds scaling: 0.5 -> r
        n = rng.integers(depth[0], depth[1] + 1, len(sites))
        scale = (1 - rho) / rho
        alt = rng.binomial(n, rng.beta(p * scale, (1 - p) * scale))
        counts[sid] = (alt, n)
    return tracked_rows(sites, counts)


def molecule_patient(tfs: dict[str, float], seed: int, n_sites: int = 60,
                     r: float = 0.47, site_sd: float = 0.08) -> pd.DataFrame:
    """Fragments one by one: a fragment is tumour-derived with probability
    t c / (t c + 2 (1 - t)); a tumour fragment carries the major haplotype with probability
    M / c, a normal one either haplotype with probability 1/2; a fragment with the alt allele is
    then captured with relative efficiency exp(logit(r) + e_site), e_site ~ N(0, site_sd),
    drawn per site and sample."""
    rng = np.random.default_rng(seed)
    sites = het_sites(LAYOUT, n_sites, rng)
    alt_on_major = rng.random(len(sites)) < 0.5
    counts = {}
    for sid, t in {"N": 0.0, **tfs}.items():
        alts, ns = [], []
        for s, major_has_alt in zip(sites.itertuples(), alt_on_major):
            c, m = s.c, s.m
            n_target = int(rng.integers(300, 801))
            efficiency = math.exp(math.log(r / (1 - r)) + rng.normal(0, site_sd))
            kept_alt = kept = 0
            while kept < n_target:
                batch = 2 * (n_target - kept) + 20
                tumour = rng.random(batch) < t * c / (t * c + 2 * (1 - t))
                major = np.where(tumour, rng.random(batch) < (c - m) / max(c, 1),
                                 rng.random(batch) < 0.5)
                is_alt = major == major_has_alt
                # Ref fragments are always captured; alt ones with the relative efficiency
                # (or the other way round when alt is favoured).
                keep_p = np.where(is_alt, min(efficiency, 1.0), min(1.0 / efficiency, 1.0))
                keep = rng.random(batch) < keep_p
                take = np.flatnonzero(keep)[: n_target - kept]
                kept += len(take)
                kept_alt += int(is_alt[take].sum())
            alts.append(kept_alt)
            ns.append(n_target)
        counts[sid] = (np.array(alts), np.array(ns))
    return tracked_rows(sites, counts)


def run(tracked: pd.DataFrame, layout: dict = LAYOUT, **kw) -> pd.DataFrame:
    draws, _ = baf_tumour_fraction(tracked, {"D1": states_table(layout)}, "D1", **kw)
    return draws.set_index("sample_id")


TFS = {"D0": 0.0, "D1": 0.05, "D2": 0.1, "D3": 0.3}


def test_model_generator_recovers_tf_and_covers_truth():
    errors = {sid: [] for sid in TFS}
    covered = {sid: 0 for sid in TFS}
    llr0 = []
    seeds = range(6)
    for seed in seeds:
        out = run(patient(TFS, seed))
        for sid, t in TFS.items():
            row = out.loc[sid]
            errors[sid].append(row["tumour_fraction_baf"] - t)
            covered[sid] += row["tf_baf_lower"] <= t <= row["tf_baf_upper"]
        llr0.append(out.loc["D0", "llr_baf"])
        assert out.loc["D0", "tf_baf_lower"] == 0.0
    mae = {sid: float(np.mean(np.abs(e))) for sid, e in errors.items()}
    # 50 seeds (docs/baf.md): mean absolute error 0.019 / 0.011 / 0.011 at TF 0.05 / 0.1 / 0.3.
    assert mae["D1"] < 0.03 and mae["D2"] < 0.015 and mae["D3"] < 0.015, mae
    assert all(abs(np.mean(errors[sid])) < 0.015 for sid in ("D1", "D2", "D3")), errors
    assert mae["D0"] < 0.03, errors["D0"]  # an MLE on the boundary is biased upwards
    assert max(llr0) < 3
    assert sum(covered.values()) >= 0.85 * len(seeds) * len(TFS)


def test_one_patient_numbers():
    draws, profile = baf_tumour_fraction(patient(TFS, seed=11), {"D1": states_table(LAYOUT)},
                                         "D1")
    out = draws.set_index("sample_id")
    assert list(out.index) == ["D0", "D1", "D2", "D3"]
    # One patient, so a tolerance of ~2 RMSE (0.015 over 50 seeds, docs/baf.md); coverage is a
    # rate and is tested over seeds above (this seed's TF 0.1 draw is one of the ~8% misses).
    assert abs(out.loc["D3", "tumour_fraction_baf"] - 0.3) < 0.03
    assert out.loc["D3", "tf_baf_lower"] <= 0.3 <= out.loc["D3", "tf_baf_upper"]
    assert out.loc["D3", "llr_baf"] > 50
    assert out.loc["D0", "llr_baf"] < 3 and out.loc["D0", "tf_baf_lower"] == 0.0
    assert abs(out.loc["D3", "reference_bias"] - 0.48) < 0.01
    assert (out["n_het"] > 60).all() and (out["n_imbalanced"] > 25).all()
    assert out["note"].str.contains("amplification-state bins dropped").all()
    # The profile: one curve per draw on the fixed grid, maximal at the estimate.
    assert set(profile.columns) == {"sample_id", "tf", "loglik"}
    assert len(profile) == 4 * len(TF_GRID)
    d3 = profile[profile["sample_id"] == "D3"]
    assert abs(d3["tf"].iloc[int(d3["loglik"].argmax())] - out.loc["D3", "tumour_fraction_baf"]
               ) <= TF_GRID[1]


def test_fitted_allelic_states():
    fit = fit_baf(patient(TFS, seed=3), {"D1": states_table(LAYOUT)}, "D1")
    seg = fit.segments.set_index(["chromosome", "start"])
    assert seg.loc[("chr1", 0), "minor_copy"] == 0  # LOH c = 1
    assert seg.loc[("chr2", 0), "minor_copy"] == 0  # copy-neutral LOH
    assert seg.loc[("chr3", 20 * BIN), "minor_copy"] == 1  # gain 2 + 1
    assert seg.loc[("chr4", 0), "minor_copy"] == 1  # balanced
    assert np.isnan(seg.loc[("chr5", 15 * BIN), "minor_copy"])  # amplification: dropped


@pytest.mark.parametrize("bias", [0.48, 0.46, 0.52])
def test_reference_bias_learnt_from_normal(bias):
    fit = fit_baf(patient(TFS, seed=5, r=bias), {"D1": states_table(LAYOUT)}, "D1")
    assert abs(fit.noise.reference_bias - bias) < 0.01
    assert 0.0005 < fit.noise.overdispersion < 0.006  # truth 0.002


def test_reference_bias_alone_is_not_tumour():
    """Strong reference bias (r = 0.46) and no tumour: every SNP reads ~0.46, which a model
    without the bias would take for imbalance."""
    out = run(patient({"D0": 0.0, "D1": 0.0, "D3": 0.3}, seed=8, r=0.46))
    for sid in ("D0", "D1"):
        assert out.loc[sid, "tumour_fraction_baf"] < 0.02
        assert out.loc[sid, "tf_baf_lower"] == 0.0
        assert out.loc[sid, "llr_baf"] < 3
    assert abs(out.loc["D3", "tumour_fraction_baf"] - 0.3) < 0.02


def test_only_balanced_segments_gives_nan_with_the_reason():
    out = run(patient({"D1": 0.2, "D2": 0.4}, seed=2, layout=BALANCED), layout=BALANCED)
    assert out["tumour_fraction_baf"].isna().all()
    assert out["note"].str.contains("no allelically imbalanced segment").all()
    assert (out["n_imbalanced"] == 0).all() and (out["n_het"] > 50).all()


def test_patient_without_normal_is_empty_with_the_reason():
    tracked = patient({"D1": 0.2}, seed=1)
    tracked = tracked[tracked["sample_type"] != "normal"]
    hets = germline_hets(tracked)
    assert hets.empty and "no matched normal" in hets.attrs["reason"]
    draws, profile = baf_tumour_fraction(tracked, {"D1": states_table(LAYOUT)}, "D1")
    assert profile.empty
    assert draws["tumour_fraction_baf"].isna().all()
    assert draws["note"].str.contains("no matched normal").all()


def test_too_few_hets_gives_nan():
    tracked = patient({"D1": 0.2}, seed=4, n_sites=4)
    out = run(tracked)
    assert np.isnan(out.loc["D1", "tumour_fraction_baf"])
    assert "fewer than 5 usable heterozygous SNPs" in out.loc["D1", "note"]


def test_germline_hets_selection():
    tracked = patient({"D1": 0.2}, seed=6, n_sites=30)
    site = tracked[["chrom", "pos"]].drop_duplicates().to_numpy()
    strand = tracked["pos"] == site[0][1]
    tracked.loc[strand, "filters"] = "germline_vaf_in_normal;strand_bias"
    somatic = tracked["pos"] == site[1][1]
    tracked.loc[somatic, "category"] = "somatic"
    hom = (tracked["pos"] == site[2][1]) & (tracked["sample_id"] == "N")
    tracked.loc[hom, "alt_count"] = tracked.loc[hom, "depth"]
    tracked.loc[hom, "ref_count"] = 0
    shallow = (tracked["pos"] == site[3][1]) & (tracked["sample_id"] == "N")
    tracked.loc[shallow, ["ref_count", "alt_count", "depth"]] = [5, 5, 10]
    zero = (tracked["pos"] == site[4][1]) & (tracked["sample_id"] == "D1")
    tracked.loc[zero, ["ref_count", "alt_count", "depth", "filters"]] = [
        0, 0, 0, "germline_vaf_in_normal;zero_depth"]
    hets = germline_hets(tracked)
    kept = set(hets["pos"])
    assert not kept & {site[i][1] for i in range(4)}
    assert site[4][1] in kept and len(kept) == len(site) - 4
    assert sorted(hets["sample_id"].unique()) == ["D1", "N"]
    assert list(hets.columns) == ["sample_id", "sample_type", "chrom", "pos", "ref_count",
                                  "alt_count", "depth"]


def test_bad_input_names_the_field():
    tracked = patient({"D1": 0.2}, seed=6, n_sites=10)
    with pytest.raises(InputError, match="missing columns"):
        germline_hets(tracked.drop(columns="filters"))
    tracked["alt_count"] = tracked["alt_count"].astype(object)
    tracked.loc[3, "alt_count"] = "x"
    with pytest.raises(InputError, match=r"row 5, column 'alt_count'"):
        germline_hets(tracked)
    with pytest.raises(InputError, match="reference sample"):
        baf_tumour_fraction(patient({"D1": 0.2}, seed=6), {"D1": states_table(LAYOUT)}, "D9")


def test_molecule_generator_agrees():
    """The fragment-by-fragment generator (per-site capture bias, no beta-binomial) read by the
    beta-binomial model: no systematic error, accuracy like the model generator's, intervals
    that cover."""
    tfs = {"D0": 0.0, "D2": 0.15, "D3": 0.35}
    errors = {sid: [] for sid in tfs}
    covered = 0
    for seed in range(5):
        out = run(molecule_patient(tfs, seed=20 + seed))
        assert abs(out.loc["D3", "reference_bias"] - 0.47) < 0.01
        for sid, t in tfs.items():
            errors[sid].append(out.loc[sid, "tumour_fraction_baf"] - t)
            covered += out.loc[sid, "tf_baf_lower"] <= t <= out.loc[sid, "tf_baf_upper"]
    for sid in ("D2", "D3"):
        assert np.mean(np.abs(errors[sid])) < 0.02, errors[sid]
        assert abs(np.mean(errors[sid])) < 0.01, errors[sid]
    assert np.mean(errors["D0"]) < 0.03
    assert covered >= 13  # of 15
