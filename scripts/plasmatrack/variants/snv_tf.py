"""Tumour fraction from clonal somatic SNVs: TF = 2 x VAF of clonal, heterozygous, copy-neutral
SNVs (for copy number 2 and one mutant copy, VAF = TF / 2 exactly).

Which SNVs: per patient, the somatic SNVs (category somatic, not blacklisted or strand-biased)
detected in at least one plasma draw, ranked by pooled plasma VAF (all draws,
background-subtracted). From each of the three highest a group is grown downwards: the next SNV
joins while its pooled counts are consistent with the group's pooled VAF (two-sided binomial
p >= 0.01) and it is within ``cluster_ratio`` (0.6) of it; the first group of at least two SNVs
(else the top SNV alone) is the clonal set. The top group is the truncal clone: subclones and
emerging clones sit below it; an SNV on a gained or amplified allele sits above it, usually alone,
and is skipped. No copy-number input is used, so a patient whose only detected clonal SNV is on
an amplified allele gets an overestimate (seen once in the simulated cohorts).
The same set is used in every sample of the patient so that estimates are comparable over time.

Per sample: the clonal set's fragments are pooled (observations with depth >= ``min_depth``):
VAF = (sum alt - sum depth x background) / sum depth, TF = 2 x VAF (clipped to [0, 1]). The 95%
interval is the Wilson interval of the pooled counts with the sample size divided by the
quasi-binomial overdispersion of the per-variant counts (Pearson chi-square / df, at least 1), so
disagreement between the clonal SNVs widens it. ``tf_snv_p_value`` tests the pooled mutant
fragments against the background model's expected count (``background_fragments``) with the same
overdispersion: the SNV evidence of the combined tumour fraction (``cnv/combine.py``)."""

from __future__ import annotations

import math
from typing import Collection

import numpy as np
import pandas as pd
from scipy import stats

from ..stats.binomial import wilson_interval
from .stats import pooled_background_p_value

# Two-sided binomial p below which an SNV's pooled VAF is inconsistent with the clonal level.
CONSISTENCY_P = 0.01
# How many of the highest-VAF SNVs are tried as the seed of the clonal group.
SEED_CANDIDATES = 3

TF_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "tumour_fraction_snv", "tf_snv_lower",
              "tf_snv_upper", "n_variants", "sample_type", "alt_fragments", "depth_fragments",
              "overdispersion", "clonal_variants", "background_fragments", "tf_snv_p_value"]


def clonal_set(tracked: pd.DataFrame, cluster_ratio: float = 0.6, min_depth: int = 50) -> list[str]:
    """Site ids (chrom:pos:ref>alt) of the patient's clonal copy-neutral somatic SNVs."""
    t = tracked
    plasma = t[(t["sample_type"] != "normal") & (t["depth"] >= min_depth)]
    somatic = plasma[(plasma["category"] == "somatic") & (plasma["variant_type"] == "snv")]
    seen = set(somatic.loc[somatic["status"] == "detected", "site_id"])
    eligible = somatic[somatic["site_id"].isin(seen)]
    if eligible.empty:
        return []
    grouped = eligible.assign(bg_alt=eligible["depth"] * eligible["background_rate"]).groupby(
        "site_id")[["alt_count", "depth", "bg_alt"]].sum()
    vaf = ((grouped["alt_count"] - grouped["bg_alt"]).clip(lower=0) / grouped["depth"]).sort_values(
        ascending=False)
    vaf = vaf[vaf > 0]
    best: list[str] = []
    # Grow a group downwards from each of the top SEED_CANDIDATES SNVs in turn; the first group
    # of at least two SNVs wins, so one SNV on an amplified allele at the top does not seed it.
    for seed in range(min(SEED_CANDIDATES, len(vaf))):
        group = [vaf.index[seed]]
        for site in vaf.index[seed + 1:]:
            sub = grouped.loc[group]
            level = float((sub["alt_count"].sum() - sub["bg_alt"].sum()) / sub["depth"].sum())
            if level <= 0 or vaf[site] / level < cluster_ratio:
                break
            if not _consistent(grouped.loc[site], level):
                break
            group.append(site)
        if len(group) >= 2:
            return sorted(group)
        best = best or group
    return sorted(best)


def _consistent(row: pd.Series, level: float) -> bool:
    """Two-sided binomial test of an SNV's pooled counts against a VAF level (+ background)."""
    rate = float(np.clip(level + row["bg_alt"] / row["depth"], 1e-9, 1 - 1e-9))
    p_low = stats.binom.cdf(row["alt_count"], row["depth"], rate)
    p_high = stats.binom.sf(row["alt_count"] - 1, row["depth"], rate)
    return bool(2 * min(p_low, p_high) >= CONSISTENCY_P)


def snv_tumour_fraction(tracked: pd.DataFrame, cluster_ratio: float = 0.6,
                        min_depth: int = 50, left_out: Collection[str] = ()) -> pd.DataFrame:
    """One row per sample of the patient(s) in ``tracked`` (TF_COLUMNS). ``tracked`` needs
    site_id, patient_id, sample_id, sample_type, timepoint_days, variant_type, category, status,
    alt_count, depth, background_rate. Samples in ``left_out`` (failed identity) do not choose
    the clonal set; they are still measured on it."""
    rows = []
    for patient, t in tracked.groupby("patient_id", sort=False):
        chosen = clonal_set(t[~t["sample_id"].isin(list(left_out))], cluster_ratio, min_depth)
        samples = t.drop_duplicates("sample_id")[["sample_id", "sample_type", "timepoint_days"]]
        usable = t[t["site_id"].isin(chosen) & (t["depth"] >= min_depth)]
        by_sample = dict(tuple(usable.groupby("sample_id", sort=False)))
        for s in samples.itertuples(index=False):
            obs = by_sample.get(s.sample_id, usable.iloc[:0])
            row = {"sample_id": s.sample_id, "patient_id": patient,
                   "timepoint_days": s.timepoint_days, "sample_type": s.sample_type,
                   "n_variants": len(obs), "clonal_variants": ",".join(sorted(obs["site_id"]))}
            if obs.empty:
                row.update(tumour_fraction_snv=np.nan, tf_snv_lower=np.nan, tf_snv_upper=np.nan,
                           alt_fragments=0, depth_fragments=0, overdispersion=np.nan,
                           background_fragments=np.nan, tf_snv_p_value=np.nan)
                rows.append(row)
                continue
            alt = obs["alt_count"].to_numpy(dtype=float)
            depth = obs["depth"].to_numpy(dtype=float)
            bg = float((obs["depth"] * obs["background_rate"]).sum()) / depth.sum()
            raw = alt.sum() / depth.sum()
            phi = 1.0
            if len(obs) >= 2 and 0 < raw < 1:
                chi2 = float((((alt - depth * raw) ** 2) / (depth * raw * (1 - raw))).sum())
                phi = max(1.0, chi2 / (len(obs) - 1))
            lower, upper = wilson_interval(np.array([alt.sum() / phi]),
                                           np.array([depth.sum() / phi]))
            row.update(
                tumour_fraction_snv=float(np.clip(2 * (raw - bg), 0, 1)),
                tf_snv_lower=float(np.clip(2 * (lower[0] - bg), 0, 1)),
                tf_snv_upper=float(np.clip(2 * (upper[0] - bg), 0, 1)),
                alt_fragments=int(alt.sum()), depth_fragments=int(depth.sum()),
                overdispersion=phi, background_fragments=bg * depth.sum(),
                tf_snv_p_value=pooled_background_p_value(alt.sum(), depth.sum(), bg, phi))
            rows.append(row)
    return pd.DataFrame(rows, columns=TF_COLUMNS)
