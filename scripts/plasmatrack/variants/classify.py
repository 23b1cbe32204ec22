"""Per-observation status and per-variant category.

Status of a variant in a sample (one observation):
- ``detected``: beta-binomial p-value against the site's background < the calibrated threshold;
- ``not_detected``: not detected, and the sample had the power (>= ``min_power``, default 0.8) to
  detect the variant at the VAF in question;
- ``undetermined``: not detected and too few informative fragments to show that VAF (power below
  ``min_power``, or no fragments at all).
The VAF in question is the variant's highest VAF among the patient's plasma draws where it is
detected (its peak level); for a variant never detected in plasma, ``reference_vaf`` (1%).

Category of a variant (per patient, the same in every sample), first rule that applies:
1. germline: VAF >= ``germline_min_vaf`` (0.2) in the matched normal (depth >=
   ``min_normal_depth``).
   Without a usable normal: every plasma draw with >= 20 fragments has VAF in [0.3, 0.7] or >= 0.9.
2. artifact: the site is blacklisted (noisy in controls).
3. chip: detected in the matched normal (same test and threshold) at VAF >= ``chip_min_vaf``:
   white-cell DNA carries it, so it does not come from the tumour and does not follow TF.
4. chip (filter ``chip_gene_unconfirmed``): a variant in a clonal-haematopoiesis gene
   (``chip_genes``: DNMT3A, TET2, ASXL1, ...) detected in plasma, never confidently absent from
   any plasma draw (a white-cell clone is present at every draw), and whose matched normal is too
   shallow to confirm or exclude it (power < ``min_power`` at the variant's plasma VAF) or
   absent (a patient without a normal sample). Keeping
   such variants out of the tumour is the conservative choice that plasma-only assays make.
5. artifact: strand bias in the pooled plasma counts (Fisher p < ``strand_bias_max_p`` and the
   minority strand carries < ``min_strand_fraction`` of the alt fragments).
6. somatic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..config import settings_kwargs
from ..stats.binomial import wilson_interval
from .stats import detection_power, fisher_strand_p, presence_p_value

DETECTED, NOT_DETECTED, UNDETERMINED = "detected", "not_detected", "undetermined"
SOMATIC, GERMLINE, CHIP, ARTIFACT = "somatic", "germline", "chip", "artifact"
PLASMA_GERMLINE_MIN_DEPTH = 20
DETECTION_KEYS = ("min_power", "reference_vaf")  # CallSettings' keys under variants.detection
DEFAULT_CHIP_GENES = ("DNMT3A", "TET2", "ASXL1", "PPM1D", "JAK2", "SF3B1", "SRSF2", "CBL",
                      "GNB1", "GNAS", "IDH2", "U2AF1", "BCOR", "BCORL1", "STAT3", "KDM6A")


@dataclass(frozen=True)
class CallSettings:
    """Status and category calls: ``variants.detection`` (power) and
    ``variants.classification`` in the config (``from_config`` takes ``variants``)."""

    min_power: float = 0.8
    reference_vaf: float = 0.01
    germline_min_vaf: float = 0.2
    min_normal_depth: int = 20
    chip_min_vaf: float = 0.001
    strand_bias_max_p: float = 1e-6
    min_strand_fraction: float = 0.1
    chip_genes: tuple[str, ...] = DEFAULT_CHIP_GENES

    @classmethod
    def from_config(cls, variants_config: dict) -> "CallSettings":
        # variants.detection also holds the background model's keys; classification is ours
        detection = settings_kwargs(cls, variants_config.get("detection"), "variants.detection",
                                    names=DETECTION_KEYS, strict=False)
        classification = settings_kwargs(
            cls, variants_config.get("classification"), "variants.classification",
            names=[f.name for f in fields(cls) if f.name not in DETECTION_KEYS])
        return cls(**detection, **classification)


def call_observations(obs: pd.DataFrame, threshold: float, params: CallSettings) -> pd.DataFrame:
    """Add vaf, vaf_lower, vaf_upper, p_value, vaf_in_question, power and status.

    obs: one row per site x sample with site_id, sample_type, alt_count, depth, bg_alpha,
    bg_beta, background_rate."""
    out = obs.copy()
    alt = out["alt_count"].to_numpy(dtype=float)
    depth = out["depth"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["vaf"] = np.where(depth > 0, alt / depth, np.nan)
    out["vaf_lower"], out["vaf_upper"] = wilson_interval(alt, depth)
    out["p_value"] = presence_p_value(alt, depth, out["bg_alpha"], out["bg_beta"])
    detected = (out["p_value"].to_numpy() < threshold) & (depth > 0)
    plasma_hits = out[detected & (out["sample_type"] != "normal").to_numpy()]
    peak = plasma_hits.groupby("site_id")["vaf"].max()
    out["vaf_in_question"] = out["site_id"].map(peak).fillna(params.reference_vaf).to_numpy()
    out["power"] = detection_power(depth, out["vaf_in_question"], out["background_rate"],
                                   out["bg_alpha"], out["bg_beta"], threshold)
    out["status"] = np.where(detected, DETECTED,
                             np.where(out["power"] >= params.min_power, NOT_DETECTED, UNDETERMINED))
    return out


def classify_variants(calls: pd.DataFrame, blacklisted: pd.Series, threshold: float,
                      params: CallSettings) -> pd.DataFrame:
    """One row per site_id: category, filters (';'-joined reasons, '' when none), normal_vaf,
    normal_depth, strand_p.

    calls: output of ``call_observations`` for one patient (with a ``gene`` column for the CHIP
    gene rule); blacklisted: site_id -> bool."""
    chip_genes = set(params.chip_genes)
    rows = []
    for site, group in calls.groupby("site_id", sort=False):
        normal = group[group["sample_type"] == "normal"]
        plasma = group[group["sample_type"] != "normal"]
        n_alt, n_depth = int(normal["alt_count"].sum()), int(normal["depth"].sum())
        has_normal = len(normal) > 0 and n_depth >= params.min_normal_depth
        normal_vaf = n_alt / n_depth if n_depth else np.nan
        reasons: list[str] = []
        if not len(normal):
            reasons.append("no_matched_normal")
        if has_normal:
            germline = normal_vaf >= params.germline_min_vaf
        else:
            deep = plasma[plasma["depth"] >= PLASMA_GERMLINE_MIN_DEPTH]
            v = deep["vaf"].to_numpy()
            germline = bool(len(v)) and bool(np.all(((v >= 0.3) & (v <= 0.7)) | (v >= 0.9)))
        normal_detected = False
        if has_normal:
            a = float(normal["bg_alpha"].iloc[0])
            b = float(normal["bg_beta"].iloc[0])
            normal_p = float(presence_p_value(np.array([n_alt]), np.array([n_depth]), a, b)[0])
            normal_detected = normal_p < threshold and normal_vaf >= params.chip_min_vaf
        strand_p = fisher_strand_p(plasma["ref_fwd"].sum(), plasma["ref_rev"].sum(),
                                   plasma["alt_fwd"].sum(), plasma["alt_rev"].sum())
        alt_total = plasma["alt_fwd"].sum() + plasma["alt_rev"].sum()
        minority = (min(plasma["alt_fwd"].sum(), plasma["alt_rev"].sum()) / alt_total
                    if alt_total else 1.0)
        strand_bias = (strand_p < params.strand_bias_max_p
                       and minority < params.min_strand_fraction)
        genes = set(str(group["gene"].iloc[0]).split(",")) if "gene" in group else set()
        chip_unconfirmed = (
            bool(genes & chip_genes)
            # every normal underpowered; no matched normal at all (.all() of nothing is True)
            # cannot exclude a white-cell clone either
            and bool((normal["power"] < params.min_power).all())
            and bool((plasma["status"] == DETECTED).any())
            and not bool((plasma["status"] == NOT_DETECTED).any()))
        if germline:
            category = GERMLINE
            reasons.append("germline_vaf_in_normal" if has_normal else "germline_vaf_in_plasma")
        elif bool(blacklisted.get(site, False)):
            category = ARTIFACT
        elif normal_detected:
            category = CHIP
            reasons.append("detected_in_normal")
        elif chip_unconfirmed:
            category = CHIP
            reasons.append("chip_gene_unconfirmed")
        elif strand_bias:
            category = ARTIFACT
        else:
            category = SOMATIC
        if bool(blacklisted.get(site, False)):
            reasons.append("blacklisted")
        if strand_bias:
            reasons.append("strand_bias")
        rows.append({"site_id": site, "category": category, "variant_filters": ";".join(reasons),
                     "normal_vaf": normal_vaf, "normal_depth": n_depth, "strand_p": strand_p})
    return pd.DataFrame(rows, columns=["site_id", "category", "variant_filters", "normal_vaf",
                                       "normal_depth", "strand_p"])
