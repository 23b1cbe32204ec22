"""Sum-rule trees (valid, forced nesting, fallback) and clone events with gene labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plasmatrack.clonal.events import EventSettings, clone_events, timepoint_labels
from plasmatrack.clonal.tree import build_tree

SD = 0.01


def test_branching_tree_satisfies_sum_rule_at_every_timepoint():
    mean = np.array([[1.0, 1.0, 1.0], [0.6, 0.3, 0.1], [0.0, 0.2, 0.7]])
    tree = build_tree(mean, np.full_like(mean, SD))
    assert tree.valid and tree.parents[0] is None
    # 0.1 + 0.7 <= 1 and 0.6 + 0.0 <= 1: both hang from the trunk; nesting 2 under 1 would break
    # the rule at the last draw (0.7 > 0.1)
    assert tree.parents[1:] == [0, 0]
    _check_sum_rule(mean, tree.parents)


def test_nesting_is_forced_when_siblings_would_exceed_the_parent():
    mean = np.array([[1.0, 1.0], [0.7, 0.8], [0.5, 0.6]])
    tree = build_tree(mean, np.full_like(mean, SD))
    assert tree.valid and tree.parents == [None, 0, 1]  # 0.7 + 0.5 > 1: clone 2 inside clone 1
    assert tree.n_valid_trees == 1


def test_no_valid_tree_gives_fallback_and_note():
    # clone 1 larger than clone 2 early, smaller late, and both too large to be siblings
    mean = np.array([[1.0, 1.0], [0.8, 0.3], [0.3, 0.8]])
    tree = build_tree(mean, np.full_like(mean, SD), sample_names=["D1", "D2"])
    assert not tree.valid
    assert "no tree satisfies the sum rule" in tree.note and "greedy fallback" in tree.note
    assert tree.max_excess > 0.05
    assert len(tree.parents) == 3 and not all(tree.node_ok)


def test_uncertain_prevalences_are_tested_with_their_interval():
    mean = np.array([[1.0], [0.55], [0.52]])  # sum 1.07 > 1 by less than 1.96 x sd
    assert build_tree(mean, np.full_like(mean, 0.05)).valid
    assert build_tree(mean, np.full_like(mean, 0.001)).parents[2] == 1  # then it must nest


def _check_sum_rule(mean, parents, tol=0.02):
    for p in range(mean.shape[0]):
        kids = [c for c, q in enumerate(parents) if q == p]
        if kids:
            assert (mean[kids].sum(axis=0) <= mean[p] + tol).all()


def _prev(rows):
    return pd.DataFrame(rows, columns=["cluster_id", "sample_id", "timepoint_days", "prevalence",
                                       "prevalence_lower", "prevalence_upper", "estimable"])


def test_emerging_resistance_clone_at_progression_is_named_by_its_gene():
    prev = _prev([
        (0, "D1", -7, 1.0, 0.95, 1.0, True), (0, "D2", 42, 1.0, 0.95, 1.0, True),
        (0, "D3", 180, 1.0, 0.95, 1.0, True),
        (1, "D1", -7, 0.01, 0.0, 0.04, True), (1, "D2", 42, 0.02, 0.0, 0.08, True),
        (1, "D3", 180, 0.45, 0.38, 0.52, True),
    ])
    ev = clone_events(prev, {0: "TP53 R248Q", 1: "PIK3CA H1047R"}, {0: "TP53", 1: "PIK3CA"},
                      ttf_days=185.0)
    assert len(ev) == 1
    row = ev.iloc[0]
    assert row["event"] == "emerging" and row["sample_id"] == "D3"
    assert row["timepoint_label"] == "progression" and row["genes"] == "PIK3CA"
    assert row["description"].startswith("PIK3CA H1047R clone emerges at progression (day 180)")


def test_declining_then_cleared_and_expanding():
    prev = _prev([
        (1, "D1", 0, 0.6, 0.5, 0.7, True), (1, "D2", 30, 0.3, 0.25, 0.35, True),
        (1, "D3", 90, 0.01, 0.0, 0.03, True),
        (2, "D1", 0, 0.2, 0.15, 0.25, True), (2, "D2", 30, np.nan, np.nan, np.nan, False),
        (2, "D3", 90, 0.7, 0.6, 0.8, True),
    ])
    ev = clone_events(prev, {1: "ESR1 D538G", 2: "AKT1 E17K"}, {1: "ESR1", 2: "AKT1"})
    got = [(r.cluster_id, r.event, r.sample_id) for r in ev.itertuples()]
    # the non-estimable draw (TF ~0) of clone 2 is skipped; without clinical data no draw is
    # called "progression"
    assert got == [(1, "declining", "D2"), (1, "cleared", "D3"), (2, "expanding", "D3")]
    assert ev.iloc[2]["description"].startswith("AKT1 E17K clone expands at day 90")


def test_undetermined_low_tf_draw_is_not_called_either_way():
    prev = _prev([(1, "D1", 0, 0.3, 0.0, 0.9, True), (1, "D2", 30, 0.6, 0.5, 0.7, True)])
    ev = clone_events(prev, {1: "x"}, {1: "X"}, settings=EventSettings())
    assert ev.empty


def test_timepoint_labels():
    assert timepoint_labels([-10, 40, 200], ttf_days=210) == ["baseline", "day 40", "progression"]
    assert timepoint_labels([-10, 40, 200], ttf_days=None) == ["baseline", "day 40", "day 200"]


def test_only_the_draw_closest_to_treatment_failure_is_progression():
    # a fast progressor (failure at day 23): the day-13 draw is inside the window but is not it
    assert timepoint_labels([-8, 13, 23], ttf_days=22.8) == ["baseline", "day 13", "progression"]
