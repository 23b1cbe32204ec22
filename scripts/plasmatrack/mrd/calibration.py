"""Calibration of the residual-disease calls against simulated truth (tests and benchmark).

The bound: a pooled-count Poisson test at the *true* background of the draw (B = sum over the
patient's listed variants of depth x true rate; signal = TF x sum depth x true weight, where a
false tissue variant has weight 0), at the same level as the calls. A draw is "powered" when
that test detects its TF with probability >= 95 %; the bound's LoD95 is the TF at which it would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .call import DETECTED, NOT_EVALUABLE
from .model import poisson_lod95, poisson_power


def truth_bounds(sites: pd.DataFrame, counts: pd.DataFrame, draws: pd.DataFrame,
                 alpha: float) -> pd.DataFrame:
    """Per plasma draw: sample_id, truth_tf, true_background, true_signal_per_tf, power (of the
    Poisson test at the true background), bound_lod95.

    sites: patient_id, site_id, truth_rate, truth_weight; counts: sample_id, site_id, depth;
    draws: sample_id, patient_id, sample_type, truth_tf."""
    rows = []
    plasma = draws[draws["sample_type"] == "plasma"]
    by_sample = dict(tuple(counts.groupby("sample_id")))
    for draw in plasma.itertuples(index=False):
        mine = sites[sites["patient_id"] == draw.patient_id]
        if mine.empty:
            continue
        depth = by_sample[draw.sample_id].set_index("site_id")["depth"].reindex(
            mine["site_id"]).fillna(0).to_numpy(float)
        background = float(np.sum(depth * mine["truth_rate"].to_numpy(float)))
        per_tf = float(np.sum(depth * mine["truth_weight"].to_numpy(float)))
        rows.append({"sample_id": draw.sample_id, "truth_tf": float(draw.truth_tf),
                     "true_background": background, "true_signal_per_tf": per_tf,
                     "power": poisson_power(background, draw.truth_tf * per_tf, alpha),
                     "bound_lod95": poisson_lod95(background, per_tf, alpha)})
    return pd.DataFrame(rows)


def calibration_summary(calls: pd.DataFrame, bounds: pd.DataFrame) -> dict:
    """The issue's figures: specificity on TF-0 draws, sensitivity on powered draws (power >=
    0.95), median reported lod95 / bound LoD95, fraction of detected draws (TF > 0) with the TF
    within 2-fold of the truth; with the number of draws behind each."""
    t = calls.merge(bounds, on="sample_id")
    t = t[t["status"] != NOT_EVALUABLE]
    detected = t["status"] == DETECTED
    null = t["truth_tf"] == 0
    powered = (t["power"] >= 0.95) & ~null
    hits = t[detected & ~null]
    ratio = hits["tumour_fraction"] / hits["truth_tf"]
    return {
        "n_null": int(null.sum()), "false_positives": int((detected & null).sum()),
        "specificity": float(1 - (detected & null).sum() / max(null.sum(), 1)),
        "n_powered": int(powered.sum()),
        "sensitivity_powered": float((detected & powered).sum() / max(powered.sum(), 1)),
        "lod95_ratio_median": float(np.median(t["lod95"] / t["bound_lod95"])),
        "n_detected_tf": int(len(hits)),
        "tf_within_2fold": float(np.mean((ratio >= 0.5) & (ratio <= 2))) if len(hits) else
        float("nan"),
    }
