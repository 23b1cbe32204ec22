"""QC pass/fail: each check compares one metric with one threshold of the config's ``qc`` section.

A sample passes when no check fails; ``qc_reason`` lists every failed check (``; ``-separated) with
the measured value and the threshold, so a user sees why without opening the table."""

from __future__ import annotations

import math
from typing import Any

from ..config import load_schema

THRESHOLD_KEYS = ("min_mapped_fraction", "min_properly_paired_fraction", "max_duplicate_rate",
                  "fragment_mode_range", "min_on_target_depth", "max_fragment_length",
                  "min_fragment_mapq")


def default_thresholds() -> dict[str, Any]:
    """The ``qc`` section's defaults, read from the config schema (the one place they live)."""
    props = load_schema()["properties"]["qc"]["properties"]
    return {key: spec["default"] for key, spec in props.items() if "default" in spec}


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def evaluate(metrics: dict[str, Any], sample_type: str, has_panel: bool,
             thresholds: dict[str, Any]) -> tuple[bool, str]:
    """Return (qc_pass, qc_reason) for one sample's metrics (a dict of the qc.tsv columns)."""
    if not metrics.get("total_reads"):
        return False, "no reads in the BAM"
    reasons: list[str] = []

    def low(name: str, key: str, fmt: str = ".3f") -> None:
        value, limit = metrics[name], thresholds[key]
        if _nan(value):
            reasons.append(f"{name} not measurable (needs >= {limit})")
        elif value < limit:
            reasons.append(f"{name} {value:{fmt}} < {key} {limit}")

    low("mapped_fraction", "min_mapped_fraction")
    if metrics.get("paired_reads"):
        low("properly_paired_fraction", "min_properly_paired_fraction")
    else:
        reasons.append("reads are not paired: properly paired fraction and fragment lengths "
                       "cannot be measured")
    rate, limit = metrics["duplicate_rate"], thresholds["max_duplicate_rate"]
    if not _nan(rate) and rate > limit:
        reasons.append(f"duplicate_rate {rate:.3f} > max_duplicate_rate {limit}")
    if sample_type == "plasma" and metrics.get("paired_reads"):
        lo, hi = thresholds["fragment_mode_range"]
        mode = metrics["fragment_mode"]
        if _nan(mode):
            reasons.append("fragment_mode not measurable (no properly paired fragments passed "
                           "the filters)")
        elif not lo <= mode <= hi:
            reasons.append(f"fragment_mode {mode:.0f} bp outside fragment_mode_range [{lo}, {hi}]")
    if has_panel:
        low("mean_on_target_depth", "min_on_target_depth", ".1f")
    return not reasons, "; ".join(reasons)
