"""Gene-level statistics and calls (plasma and tumour copy number, amplification) on tables
built in code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.genes import GeneSettings, bin_noise, call_genes, gene_stats, gene_tau

GENES = pd.DataFrame({"chromosome": ["chr17", "chr17", "chr3"], "start": [1000, 50_000, 5000],
                      "end": [3000, 60_000, 9000], "name": ["ERBB2", "TOP2A", "PIK3CA"]})


def bins_with(level: dict[str, float], sd: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Ten 100-bp targets per gene at the given log2 level (plus noise), and off-target bins."""
    rng = np.random.default_rng(seed)
    rows = []
    for _, g in GENES.iterrows():
        for i in range(10):
            start = g["start"] + i * 150
            rows.append((g["chromosome"], start, start + 100, g["name"], "target",
                         level.get(g["name"], 0.0) + rng.normal(0, sd)))
    for chrom in ("chr17", "chr3"):
        for i in range(40):
            start = 100_000 + i * 10_000
            rows.append((chrom, start, start + 10_000, "Antitarget", "antitarget",
                         rng.normal(0, 2 * sd)))
    table = pd.DataFrame(rows, columns=["chromosome", "start", "end", "gene", "bin_class", "log2"])
    table["weight"] = 1.0
    return table.sort_values(["chromosome", "start"]).reset_index(drop=True)


def test_bin_noise_ignores_steps_and_separates_classes():
    table = bins_with({"ERBB2": 2.0}, sd=0.1)
    noise = bin_noise(table)
    assert noise["target"] == pytest.approx(0.1, rel=0.35)
    assert noise["antitarget"] == pytest.approx(0.2, rel=0.35)


def test_gene_stats_use_targets_inside_the_gene():
    stats = gene_stats(bins_with({"ERBB2": 1.0}, sd=0.05), GENES).set_index("gene")
    assert stats.loc["ERBB2", "n_bins"] == 10
    assert stats.loc["ERBB2", "bin_class"] == "target"
    assert stats.loc["ERBB2", "log2_ratio"] == pytest.approx(1.0, abs=0.05)
    # se: bin SD / sqrt(10)
    assert stats.loc["ERBB2", "se"] == pytest.approx(0.05 / math.sqrt(10), rel=0.4)
    # a gene with no target falls back to overlapping off-target bins; none here -> NaN
    missing = gene_stats(bins_with({}), pd.DataFrame(
        {"chromosome": ["chr9"], "start": [0], "end": [10], "name": ["CDKN2A"]}))
    assert missing.loc[0, "n_bins"] == 0 and np.isnan(missing.loc[0, "log2_ratio"])


def test_plasma_and_tumour_copy_number_follow_the_mixing_formula():
    # TF 0.2, ploidy 2, tumour CN 12 -> PCN 2*0.8 + 12*0.2 = 4.0 -> log2 ratio 1.0
    stats = pd.DataFrame({"gene": ["ERBB2"], "log2_ratio": [1.0], "se": [0.02]})
    tf = {"tumour_fraction": 0.2, "tf_lower": 0.18, "tf_upper": 0.22, "ploidy_fit": 2.0,
          "tf_detected": True}
    row = call_genes(stats, pd.Series(dtype=float), tf, GeneSettings()).iloc[0]
    assert row["plasma_copy_number"] == pytest.approx(4.0)
    assert row["tumour_copy_number"] == pytest.approx(12.0)
    assert row["tumour_copy_number_lower"] < 12.0 < row["tumour_copy_number_upper"]
    # the upper bound comes from the lower TF and the upper PCN
    pcn_hi = 2 * 2 ** (1.0 + 1.96 * 0.02)
    assert row["tumour_copy_number_upper"] == pytest.approx(2 + (pcn_hi - 2) / 0.18, rel=1e-6)
    assert row["amplified"] and row["amplified_pcn"]
    assert row["z_score"] == pytest.approx(50.0)


def test_tumour_copy_number_not_estimable_without_tf():
    stats = pd.DataFrame({"gene": ["ERBB2"], "log2_ratio": [0.2], "se": [0.05]})
    tf = {"tumour_fraction": 0.0, "tf_lower": 0.0, "tf_upper": 0.04, "ploidy_fit": 2.0,
          "tf_detected": False}
    row = call_genes(stats, pd.Series(dtype=float), tf, GeneSettings()).iloc[0]
    # PCN from the diploid baseline; CN_tumour empty, never a huge number
    assert row["plasma_copy_number"] == pytest.approx(2 * 2 ** 0.2)
    assert np.isnan(row["tumour_copy_number"]) and np.isnan(row["tumour_copy_number_upper"])
    # excess 0.30 copies at z = 4: amplified even though genome-wide TF is not detected
    assert row["amplified"]


@pytest.mark.parametrize("log2,se,tau,expected", [
    (0.2, 0.05, 0.0, True),     # z 4, excess 0.30
    (0.2, 0.05, 0.1, False),    # z 1.8 once the normals' extra spread is counted
    (0.05, 0.005, 0.0, False),  # z 10 but only 0.07 excess copies
    (-0.5, 0.05, 0.0, False),   # a loss is never an amplification
])
def test_amplified_needs_both_z_and_excess(log2, se, tau, expected):
    stats = pd.DataFrame({"gene": ["ERBB2"], "log2_ratio": [log2], "se": [se]})
    tf = {"tumour_fraction": 0.0, "tf_detected": False, "ploidy_fit": 2.0}
    row = call_genes(stats, pd.Series({"ERBB2": tau}), tf, GeneSettings()).iloc[0]
    assert bool(row["amplified"]) is expected


def test_gene_tau_is_spread_beyond_sampling_error():
    rng = np.random.default_rng(3)
    normals = pd.DataFrame({"gene": "ERBB2", "log2_ratio": rng.normal(0, 0.1, 400),
                            "se": np.full(400, 0.06)})
    # var 0.01 - 0.0036 -> tau 0.08
    assert gene_tau(normals)["ERBB2"] == pytest.approx(0.08, abs=0.012)
    few = normals.iloc[:2]
    assert gene_tau(few)["ERBB2"] == 0.0


def test_settings_from_config():
    assert GeneSettings.from_config({"z_min": 4}).z_min == 4.0
    with pytest.raises(Exception, match="unknown keys"):
        GeneSettings.from_config({"zmin": 4})
