"""Gene-level copy number from bin-level statistics (not from segments), for every gene of the
genes BED: the call the CNVkit maintainer recommends for focal genes on small panels, where
segmentation misses focal amplifications.

Per sample and gene
-------------------
- bins: the capture targets inside the gene when it has any, otherwise every bin overlapping it
  (off-target or whole-genome bins).
- ``log2_ratio``: weighted mean of those bins' log2 ratios (CNVkit weights).
- ``se``: sampling error of that mean from the sample's own bin noise (robust SD of first
  differences of the same bin class, divided by sqrt(n)).
- ``z_score = log2_ratio / sqrt(se^2 + tau^2)`` where ``tau^2`` is the gene's extra variance in the
  panel of normals (variance of the normals' leave-one-out gene log2 beyond their own sampling
  error; 0 when fewer than 3 normals), and ``p_value`` its two-sided normal p-value.
- ``plasma_copy_number`` (PCN): ``2^log2_ratio`` times the sample's average plasma copy number,
  ``2 (1 - TF) + ploidy TF`` when TF is detected (copy ratios are centred on that average), else 2.
- ``tumour_copy_number = 2 + (PCN - 2) / TF`` with an interval from the corners of the gene's 95%
  log2 interval and the TF interval; empty ("not estimable") when TF is not detected or below
  ``min_tf_for_cn``.
- ``amplified``: ``z_score >= z_min`` and excess plasma copies ``PCN - 2 >= min_excess``.
  Both: z alone would call a tiny excess on a very deep panel, a PCN cut alone would call noise
  on a shallow one. ``amplified_pcn``: the observed-copy call ``PCN >= pcn_threshold``
  (Guardant360 / HERACLES-A style, 2.4), reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ..config import settings_kwargs
from .coverage import OFF_TARGET_NAMES

GENE_COLUMNS = [
    "sample_id", "patient_id", "timepoint_days", "gene", "log2_ratio", "z_score", "p_value",
    "plasma_copy_number", "tumour_copy_number", "tumour_copy_number_lower",
    "tumour_copy_number_upper", "amplified",
]


@dataclass(frozen=True)
class GeneSettings:
    """Thresholds of the gene-level calls (config ``cnv.genes``)."""

    z_min: float = 3.0
    min_excess: float = 0.15
    pcn_threshold: float = 2.4
    min_tf_for_cn: float = 0.02

    @classmethod
    def from_config(cls, section: dict | None) -> "GeneSettings":
        return cls(**settings_kwargs(cls, section, "cnv.genes"))


def bin_class(gene_column: pd.Series) -> np.ndarray:
    """``antitarget`` for CNVkit's off-target bins, ``target`` for the rest."""
    return np.where(gene_column.astype(str).isin(OFF_TARGET_NAMES), "antitarget", "target")


def bin_noise(bins: pd.DataFrame) -> dict[str, float]:
    """Robust per-bin noise SD of each bin class: MAD of within-chromosome first differences of
    log2 divided by sqrt(2) (insensitive to copy-number steps)."""
    out = {}
    for cls, sub in bins.groupby("bin_class"):
        diffs = []
        for _, chrom in sub.groupby("chromosome", sort=False):
            y = chrom.sort_values("start")["log2"].to_numpy(float)
            y = y[np.isfinite(y)]
            if len(y) > 1:
                diffs.append(np.diff(y))
        d = np.concatenate(diffs) if diffs else np.array([])
        if len(d) < 3:
            out[cls] = float("nan")
            continue
        out[cls] = float(np.median(np.abs(d - np.median(d))) * 1.4826 / math.sqrt(2.0))
    return out


def gene_stats(bins: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Per gene of ``genes`` (chromosome, start, end, name): chromosome, start, end, n_bins,
    bin_class, log2_ratio, se. ``bins``: chromosome, start, end, log2, optional weight and
    bin_class (``target``/``antitarget``; default all ``target``). Genes without bins get NaN."""
    table = bins.copy()
    if "bin_class" not in table:
        table["bin_class"] = "target"
    if "weight" not in table:
        table["weight"] = 1.0
    table = table[np.isfinite(table["log2"].to_numpy(float))]
    noise = bin_noise(table)
    rows = []
    for _, gene in genes.iterrows():
        sel = ((table["chromosome"] == gene["chromosome"]) & (table["end"] > gene["start"])
               & (table["start"] < gene["end"])).to_numpy()
        sub = table[sel]
        if (sub["bin_class"] == "target").any():
            sub = sub[sub["bin_class"] == "target"]
        row = {"gene": gene["name"], "chromosome": gene["chromosome"], "start": gene["start"],
               "end": gene["end"], "n_bins": len(sub), "bin_class": "", "log2_ratio": np.nan,
               "se": np.nan}
        if len(sub):
            w = sub["weight"].to_numpy(float).clip(min=1e-3)
            y = sub["log2"].to_numpy(float)
            cls = str(sub["bin_class"].iloc[0])
            # Weighted mean; the effective n accounts for unequal weights (Kish).
            n_eff = w.sum() ** 2 / (w ** 2).sum()
            row.update(bin_class=cls, log2_ratio=float((w * y).sum() / w.sum()),
                       se=float(noise.get(cls, np.nan) / math.sqrt(n_eff)))
        rows.append(row)
    return pd.DataFrame(rows, columns=["gene", "chromosome", "start", "end", "n_bins", "bin_class",
                                       "log2_ratio", "se"])


def gene_tau(normal_stats: pd.DataFrame) -> pd.Series:
    """Per gene: extra SD of the gene log2 in the panel of normals beyond sampling error
    (``normal_stats``: one row per normal and gene, columns gene, log2_ratio, se)."""
    out = {}
    for gene, sub in normal_stats.groupby("gene"):
        y = sub["log2_ratio"].to_numpy(float)
        se = sub["se"].to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(se)
        if ok.sum() < 3:
            out[gene] = 0.0
            continue
        extra = np.var(y[ok], ddof=1) - np.mean(se[ok] ** 2)
        out[gene] = float(math.sqrt(max(extra, 0.0)))
    return pd.Series(out, name="tau", dtype=float)


def call_genes(stats: pd.DataFrame, tau: pd.Series, tf: dict, settings: GeneSettings
               ) -> pd.DataFrame:
    """The published gene columns for one sample's ``stats`` (from :func:`gene_stats`), given the
    sample's TF summary ``tf`` (tumour_fraction, tf_lower, tf_upper, ploidy_fit, tf_detected)."""
    out = stats.copy()
    t_vec = tau.reindex(out["gene"]).fillna(0.0).to_numpy()
    sd = np.sqrt(out["se"].to_numpy(float) ** 2 + t_vec ** 2)
    l2 = out["log2_ratio"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, l2 / sd, np.nan)
    out["z_score"] = z
    out["p_value"] = special.erfc(np.abs(z) / math.sqrt(2.0))
    detected = bool(tf.get("tf_detected"))
    t = float(tf.get("tumour_fraction") or 0.0) if detected else 0.0
    phi = float(tf.get("ploidy_fit") or 2.0)
    average = 2.0 * (1.0 - t) + phi * t if detected else 2.0
    pcn = average * np.power(2.0, l2)
    out["plasma_copy_number"] = pcn
    out["excess_copies"] = pcn - 2.0
    estimable = detected and t >= settings.min_tf_for_cn
    cn = np.full(len(out), np.nan)
    lo = np.full(len(out), np.nan)
    hi = np.full(len(out), np.nan)
    if estimable:
        cn = 2.0 + (pcn - 2.0) / t
        t_lo = max(float(tf.get("tf_lower") or t), settings.min_tf_for_cn)
        t_hi = max(float(tf.get("tf_upper") or t), t_lo)
        pcn_lo = average * np.power(2.0, l2 - 1.96 * sd)
        pcn_hi = average * np.power(2.0, l2 + 1.96 * sd)
        corners = np.stack([2.0 + (p - 2.0) / tt for p in (pcn_lo, pcn_hi) for tt in (t_lo, t_hi)])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        cn, lo, hi = (np.maximum(v, 0.0) for v in (cn, lo, hi))
    out["tumour_copy_number"] = cn
    out["tumour_copy_number_lower"] = lo
    out["tumour_copy_number_upper"] = hi
    finite = np.isfinite(z)
    out["amplified"] = finite & (z >= settings.z_min) & (pcn - 2.0 >= settings.min_excess)
    out["amplified_pcn"] = np.isfinite(pcn) & (pcn >= settings.pcn_threshold)
    return out
