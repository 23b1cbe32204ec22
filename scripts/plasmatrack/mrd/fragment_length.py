"""Fragment-length weighting of the pooled call (``mrd.fragment_length_weighting``, off by
default): tumour-derived cfDNA fragments are shorter than those of healthy cells, so a short
mutant molecule is more likely tumour than a long one.

Molecules fall in three bins: short (|TLEN| below ``short_fragment_length``), long, and of
unknown length (not a proper pair). With h and t the short shares of healthy and tumour
fragments, a molecule of bin b at site i is mutant with probability
``rate_i + TF x weight_i x LR_b`` (to first order in TF), LR_short = t / h, LR_long =
(1 - t) / (1 - h), LR_unknown = 1: sequencing errors take the lengths of the molecules they
sit on, tumour molecules the tumour's. So each site becomes three rows of the same model, with
the weight scaled by the bin's likelihood ratio and one background rate shared by the rows
(``Evidence.group``); the expected mutant count per unit TF is unchanged.

h is measured on the draw itself (its molecules of known length at its sites: at the TFs where
weighting matters at most ~1 % of them are tumour-derived), so a control of another prep
(sheared buffy-coat DNA, hardly any short fragments) does not distort it. t is the cohort's: the short share of the excess mutant molecules (mutant minus expected background)
of the draws with at least ``HIGH_TF_RATIO`` times the mutant molecules their background
explains, the "high-TF draws"; with fewer than ``MIN_TUMOUR_MOLECULES`` such molecules it is
not estimated and the calls are not weighted (said in their note).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model import Evidence

# Per sample and site: molecules of known length, short ones, and the same for mutant molecules.
LENGTH_COUNT_COLUMNS = ["depth_short", "depth_sized", "mutant_short", "mutant_sized"]
# A draw informs the tumour's length share when its mutant molecules of known length are at
# least this many times its expected background ones ...
HIGH_TF_RATIO = 5.0
# ... and the share is estimated from at least this many excess (tumour) molecules in all.
MIN_TUMOUR_MOLECULES = 20


@dataclass(frozen=True)
class LengthRatios:
    """Short shares of healthy (``healthy_short``) and tumour (``tumour_short``) fragments."""

    healthy_short: float
    tumour_short: float

    @property
    def short(self) -> float:
        return self.tumour_short / self.healthy_short

    @property
    def long(self) -> float:
        return (1 - self.tumour_short) / (1 - self.healthy_short)

    def describe(self) -> str:
        return (f"fragment-length weighted: short (healthy {self.healthy_short:.2f}, tumour "
                f"{self.tumour_short:.2f}) x{self.short:.2f}, long x{self.long:.2f}")


def has_length_counts(counts: pd.DataFrame) -> bool:
    return all(c in counts for c in LENGTH_COUNT_COLUMNS)


def healthy_short_share(counts: pd.DataFrame) -> float:
    """The short share of the molecules of known length in ``counts`` (NaN without any)."""
    sized = float(counts["depth_sized"].sum())
    return float(counts["depth_short"].sum()) / sized if sized > 0 else float("nan")


def tumour_short_share(draw_totals: pd.DataFrame) -> float | None:
    """The tumour's short share from per-draw totals (columns mutant_sized, mutant_short,
    background_sized: expected background molecules among the sized ones, healthy_short),
    over the high-TF draws; None when they hold too few tumour molecules."""
    high = draw_totals[draw_totals["mutant_sized"]
                       >= HIGH_TF_RATIO * np.maximum(draw_totals["background_sized"], 1.0)]
    excess = float((high["mutant_sized"] - high["background_sized"]).sum())
    if excess < MIN_TUMOUR_MOLECULES:
        return None
    short = float((high["mutant_short"] - high["background_sized"] * high["healthy_short"]).sum())
    return float(np.clip(short / excess, 0.01, 0.99))


def ratios_for(healthy: float, tumour: float | None) -> tuple[LengthRatios | None, str]:
    """The ratios of one patient, or None and why not."""
    if tumour is None:
        return None, ("fragment-length weighting off: fewer than "
                      f"{MIN_TUMOUR_MOLECULES} tumour molecules of known length in the "
                      "cohort's high-TF draws to learn the tumour's lengths")
    if not 0 < healthy < 1:
        return None, "fragment-length weighting off: no molecules of known length"
    return LengthRatios(healthy, tumour), ""


@dataclass(frozen=True)
class LengthBins:
    """One draw's length-binned counts at its sites (1-D arrays, the sites of its evidence)."""

    depth_short: np.ndarray
    depth_sized: np.ndarray
    mutant_short: np.ndarray
    mutant_sized: np.ndarray

    @classmethod
    def from_counts(cls, counts: pd.DataFrame) -> "LengthBins":
        return cls(*(counts[c].to_numpy(float) for c in LENGTH_COUNT_COLUMNS))

    def subset(self, keep: np.ndarray) -> "LengthBins":
        return LengthBins(self.depth_short[keep], self.depth_sized[keep],
                          self.mutant_short[keep], self.mutant_sized[keep])


def binned_evidence(ev: Evidence, bins: LengthBins, ratios: LengthRatios) -> Evidence:
    """``ev`` with each site split into its short, long and unknown-length rows (in that order
    per site), the weight scaled by the bin's likelihood ratio, one rate per site."""
    depth = np.stack([bins.depth_short, bins.depth_sized - bins.depth_short,
                      ev.depth - bins.depth_sized], axis=1)
    mutant = np.stack([bins.mutant_short, bins.mutant_sized - bins.mutant_short,
                       ev.mutant - bins.mutant_sized], axis=1)
    scale = np.array([ratios.short, ratios.long, 1.0])
    per_site = (ev.rate, ev.prior_rate, ev.control_mutant, ev.control_depth)
    rate, prior, control_mutant, control_depth = (np.repeat(v, 3) for v in per_site)
    return Evidence(depth=depth.ravel(), mutant=mutant.ravel(), rate=rate,
                    weight=(ev.weight[:, None] * scale[None, :]).ravel(), prior_rate=prior,
                    control_mutant=control_mutant, control_depth=control_depth,
                    prior_shape=ev.prior_shape, level_alpha=ev.level_alpha,
                    level_beta=ev.level_beta, group=np.repeat(np.arange(ev.depth.size), 3))
