"""Fragment-length weighting of the pooled call (``mrd.fragment_length``) on small inputs: the
binned evidence keeps the counts and shares one rate per site, the likelihood ratios move the
evidence the right way, the tumour's short share is learnt as written, and the option changes
nothing when off."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from plasmatrack.mrd.call import TUMOUR_INFORMED, call_cohort, call_draw
from plasmatrack.mrd.fragment_length import (LengthBins, LengthRatios, binned_evidence,
                                             tumour_short_share)
from plasmatrack.mrd.model import Evidence
from plasmatrack.mrd.settings import MrdSettings
from plasmatrack.mrd.sites import finish_sites
from plasmatrack.simulate.mrd import MrdCohortSettings, simulate_mrd_cohort

N = 30


def _draw(mutant_short: int, mutant_long: int):
    """30 sites x 2,000 molecules (10 % short, 97 % of known length), background 1e-4; the
    mutant molecules on the first sites, short ones first."""
    depth = np.full(N, 2000.0)
    m_short = np.zeros(N)
    m_long = np.zeros(N)
    m_short[:mutant_short] = 1
    m_long[mutant_short:mutant_short + mutant_long] = 1
    ev = Evidence(depth, m_short + m_long, np.full(N, 1e-4), np.full(N, 0.5), np.full(N, 1e-4),
                  np.full(N, 20.0), np.full(N, 200_000.0), 50.0, 600.5, 6_000_000.5)
    bins = LengthBins(depth_short=np.full(N, 194.0), depth_sized=np.full(N, 1940.0),
                      mutant_short=m_short, mutant_sized=m_short + m_long)
    return ev, bins


def test_binned_evidence_keeps_counts_and_shares_one_rate_per_site():
    ev, bins = _draw(4, 2)
    ratios = LengthRatios(healthy_short=0.1, tumour_short=0.5)
    assert (ratios.short, ratios.long) == pytest.approx((5.0, 0.5 / 0.9))
    binned = binned_evidence(ev, bins, ratios)
    assert binned.depth.size == 3 * N
    assert binned.depth.sum() == ev.depth.sum() and binned.mutant.sum() == ev.mutant.sum()
    assert binned.depth[:3].tolist() == [194, 1746, 60]
    assert binned.weight[:3] == pytest.approx([2.5, 0.5 * 0.5 / 0.9, 0.5])
    # With the draw's own short share (194 / 1,940) as the healthy one, the expected mutant
    # molecules per unit TF are unchanged: 2,000 x 0.5 per site.
    assert float(np.sum(binned.depth[:3] * binned.weight[:3])) == pytest.approx(1000.0)
    rates = binned.sample_rates(5, np.random.default_rng(1))
    assert rates.shape == (5, 3 * N)
    assert np.array_equal(rates[:, 0::3], rates[:, 1::3])
    assert np.array_equal(rates[:, 0::3], rates[:, 2::3])
    assert not np.array_equal(rates[:, 0], rates[:, 3])


def test_short_mutants_weigh_more_and_long_ones_less():
    settings = MrdSettings(n_simulations=4000)
    ratios = LengthRatios(healthy_short=0.1, tumour_short=0.5)
    labels = [f"s{i}" for i in range(N)]
    p = {}
    for name, (short, long) in {"short": (6, 0), "long": (0, 6)}.items():
        ev, bins = _draw(short, long)
        plain = call_draw(ev, labels, settings, np.random.default_rng(2))
        weighted = call_draw(ev, labels, settings, np.random.default_rng(2), bins, ratios)
        assert "fragment-length weighted" in weighted["note"]
        p[name] = (plain["p_value"], weighted["p_value"])
    # Unweighted, six mutant molecules on 6 of 30 sites against 6 expected: no evidence.
    assert p["short"][0] == p["long"][0] == 1.0
    # Six short ones where 0.6 are expected from errors: detected; six long ones: none.
    assert p["short"][1] < 0.005 and p["long"][1] == 1.0


def test_tumour_short_share_from_high_tf_draws_by_hand():
    table = pd.DataFrame({"mutant_sized": [100, 60, 8], "mutant_short": [45, 30, 5],
                          "background_sized": [10.0, 10.0, 4.0],
                          "healthy_short": [0.1, 0.2, 0.1]})
    # The third draw (8 < 5 x 4) is not a high-TF draw. Excess 90 + 50 = 140 molecules, of
    # them short 45 - 1 + 30 - 2 = 72.
    assert tumour_short_share(table) == pytest.approx(72 / 140)
    assert tumour_short_share(table.iloc[2:]) is None  # too few tumour molecules


def test_off_by_default_and_on_weights_the_simulated_cohort():
    cohort = simulate_mrd_cohort(4, MrdCohortSettings(patients=4, draws=4, length_bins=True))
    sites = finish_sites(cohort.sites)
    settings = MrdSettings(n_simulations=300)
    plain = call_cohort(sites, cohort.counts, cohort.draws, settings, TUMOUR_INFORMED)
    no_bins = cohort.counts[["sample_id", "site_id", "mutant", "depth"]]
    assert plain.equals(call_cohort(sites, no_bins, cohort.draws, settings, TUMOUR_INFORMED))
    weighted = call_cohort(sites, cohort.counts, cohort.draws,
                           replace(settings, fragment_length_weighting=True), TUMOUR_INFORMED)
    patients = weighted[weighted["patient_id"].str.startswith("M")]
    notes = patients["note"].str.extract(r"short \(healthy ([\d.]+), tumour ([\d.]+)\)").astype(
        float)
    # The read simulator's lengths: 8.9 % of healthy plasma fragments and 47.8 % of tumour
    # ones are shorter than 150 bp; both learnt from the data within a few per cent.
    assert notes[0].between(0.08, 0.10).all() and notes[1].between(0.40, 0.56).all()
    for column in ("informative_molecules", "mutant_molecules", "lod95"):
        assert weighted[column].equals(plain[column])
