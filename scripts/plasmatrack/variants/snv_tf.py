"""Tumour fraction from clonal somatic SNVs: TF = 2 x VAF of clonal, heterozygous, copy-neutral
SNVs (for copy number 2 and one mutant copy, VAF = TF / 2 exactly).

Which SNVs: per patient, the somatic SNVs (category somatic, not blacklisted or strand-biased)
detected in at least one plasma draw. Their pooled plasma VAF (all draws, background-subtracted)
is compared with the median of the upper half of those VAFs; SNVs within ``cluster_ratio`` (0.6)
and its inverse of it form the clonal set, which is then refined: the level is re-estimated as the
set's pooled VAF and the set becomes the SNVs within the ratio window of it or consistent with it
(two-sided binomial p >= 0.01 on their pooled counts), until it no longer changes. The upper
cluster is the truncal clone: subclones and emerging clones sit below it, and variants on gained
or amplified alleles (or LOH) above it, so the window keeps the copy-neutral heterozygous truncal
SNVs without needing copy-number input.
The same set is used in every sample of the patient so that estimates are comparable over time.

Per sample: the clonal set's fragments are pooled (observations with depth >= ``min_depth``):
VAF = (sum alt - sum depth x background) / sum depth, TF = 2 x VAF (clipped to [0, 1]). The 95%
interval is the Wilson interval of the pooled counts with the sample size divided by the
quasi-binomial overdispersion of the per-variant counts (Pearson chi-square / df, at least 1), so
disagreement between the clonal SNVs widens it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .stats import wilson_interval

# Two-sided binomial p below which an SNV's pooled VAF is inconsistent with the clonal level.
CONSISTENCY_P = 0.01

TF_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "tumour_fraction_snv", "tf_snv_lower",
              "tf_snv_upper", "n_variants", "sample_type", "alt_fragments", "depth_fragments",
              "overdispersion", "clonal_variants"]


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
    top = vaf.iloc[: math.ceil(len(vaf) / 2)]
    centre = float(np.median(top))
    if centre <= 0:
        return []
    chosen = vaf.index[(vaf / centre >= cluster_ratio) & (vaf / centre <= 1 / cluster_ratio)]
    # Refine: re-centre on the chosen set's pooled VAF and keep the SNVs whose pooled counts are
    # consistent with it (or within the ratio window), so that the sampling noise of the top
    # half does not bias the level upwards.
    for _ in range(10):
        sub = grouped.loc[chosen]
        centre = float((sub["alt_count"].sum() - sub["bg_alt"].sum()) / sub["depth"].sum())
        if centre <= 0:
            return []
        rate = np.clip(centre + grouped["bg_alt"] / grouped["depth"], 1e-9, 1 - 1e-9)
        p_low = stats.binom.cdf(grouped["alt_count"], grouped["depth"], rate)
        p_high = stats.binom.sf(grouped["alt_count"] - 1, grouped["depth"], rate)
        consistent = np.minimum(p_low, p_high) * 2 >= CONSISTENCY_P
        ratio = vaf.reindex(grouped.index) / centre
        in_window = (ratio >= cluster_ratio) & (ratio <= 1 / cluster_ratio)
        new = grouped.index[consistent | in_window.to_numpy()]
        if set(new) == set(chosen) or len(new) == 0:
            break
        chosen = new
    return sorted(chosen)


def snv_tumour_fraction(tracked: pd.DataFrame, cluster_ratio: float = 0.6,
                        min_depth: int = 50) -> pd.DataFrame:
    """One row per sample of the patient(s) in ``tracked`` (TF_COLUMNS). ``tracked`` needs
    site_id, patient_id, sample_id, sample_type, timepoint_days, variant_type, category, status,
    alt_count, depth, background_rate."""
    rows = []
    for patient, t in tracked.groupby("patient_id", sort=False):
        chosen = clonal_set(t, cluster_ratio, min_depth)
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
                           alt_fragments=0, depth_fragments=0, overdispersion=np.nan)
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
                overdispersion=phi)
            rows.append(row)
    return pd.DataFrame(rows, columns=TF_COLUMNS)
