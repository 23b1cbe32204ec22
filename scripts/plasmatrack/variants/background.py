"""Background error model per locus and substitution, blacklist, and detection threshold.

Controls are samples in which a site's variant is not expected: every normal and every plasma
draw of *other* patients (a panel of normals for errors). For a site, an observation in sample j
is a control observation when
  - j is one of the control samples (``choose_controls``: all normals, then plasma draws, up to
    ``max_control_samples``),
  - j's patient does not carry the site (it is not among that patient's discovered or known
    candidates), and
  - its VAF is below ``exclude_control_vaf`` (a real variant of that person, e.g. a germline SNP
    shared by two patients, is not an error).
When a patient is tested, its own samples are always taken out of the site's background.

The site's error rate gets a beta prior centred on the pooled control rate of its substitution
class (six pyrimidine-collapsed SNV classes, insertions, deletions) with ``prior_strength``
pseudo-fragments (10 for a site whose raw control rate is already above the blacklist rate),
updated with the site's control counts: Beta(a, b). Presence is tested with
the beta-binomial predictive P(X >= alt | depth, a, b), which carries the uncertainty about the
site's rate. The detection threshold is the nominal ``max_p_value``, lowered if needed so that at
least ``control_specificity`` of the control observations (each tested leave-one-patient-out)
test negative. Sites noisy in controls are blacklisted: pooled control rate >=
``blacklist_min_rate``, or >= ``blacklist_min_fraction`` (and >= 2) of control observations
positive, or the "variant" seen at high VAF in >= that fraction of unrelated controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .stats import presence_p_value

_COMPLEMENT = str.maketrans("ACGT", "TGCA")
CLASS_RATE_FLOOR = 1e-7
# Pseudo-fragments of the prior of a site already known to be noisy (its own counts dominate).
NOISY_PRIOR_STRENGTH = 10.0

BACKGROUND_COLUMNS = [
    "chrom", "pos", "ref", "alt", "substitution", "control_alt", "control_depth", "n_controls",
    "n_control_positive", "n_control_high_vaf", "prior_rate", "background_rate", "bg_alpha",
    "bg_beta", "blacklisted", "blacklist_reason",
]


@dataclass(frozen=True)
class BackgroundParams:
    prior_strength: float = 2000.0
    blacklist_min_rate: float = 0.002
    blacklist_min_fraction: float = 0.2
    exclude_control_vaf: float = 0.1
    max_p_value: float = 0.001
    control_specificity: float = 0.95

    @classmethod
    def from_config(cls, variants_config: dict) -> "BackgroundParams":
        bg = variants_config.get("background", {})
        det = variants_config.get("detection", {})
        return cls(
            prior_strength=float(bg.get("prior_strength", 2000)),
            blacklist_min_rate=float(bg.get("blacklist_min_rate", 0.002)),
            blacklist_min_fraction=float(bg.get("blacklist_min_fraction", 0.2)),
            exclude_control_vaf=float(bg.get("exclude_control_vaf", 0.1)),
            max_p_value=float(det.get("max_p_value", 0.001)),
            control_specificity=float(det.get("control_specificity", 0.95)),
        )


def substitution_class(ref: str, alt: str) -> str:
    """'C>T'-style class collapsed to a pyrimidine reference base; 'ins' or 'del' for indels."""
    if len(ref) == 1 and len(alt) == 1:
        if ref in "AG":
            ref, alt = ref.translate(_COMPLEMENT), alt.translate(_COMPLEMENT)
        return f"{ref}>{alt}"
    return "ins" if len(alt) > len(ref) else "del"


def choose_controls(samples: pd.DataFrame, max_controls: int) -> list[str]:
    """Control samples for the background: all normals first, then plasma draws, in sheet order,
    at most ``max_controls``."""
    normals = samples.loc[samples["sample_type"] == "normal", "sample_id"].tolist()
    plasma = samples.loc[samples["sample_type"] != "normal", "sample_id"].tolist()
    return (normals + plasma)[:max_controls]


def site_key(df: pd.DataFrame) -> pd.Series:
    return (df["chrom"].astype(str) + ":" + df["pos"].astype(str) + ":" + df["ref"].astype(str)
            + ">" + df["alt"].astype(str))


def parse_patients(value) -> frozenset[str]:
    if not isinstance(value, str) or not value:
        return frozenset()
    return frozenset(p for p in value.split(",") if p)


def control_mask(obs: pd.DataFrame, carriers: pd.Series, controls: set[str],
                 exclude_vaf: float) -> tuple[np.ndarray, np.ndarray]:
    """For observations (site_id, sample_id, patient_id, alt_count, depth): which are control
    observations, and which were left out only for their high VAF. ``carriers`` maps site_id to
    the set of patients that carry the site."""
    site_carriers = obs["site_id"].map(carriers)
    own = np.array([p in c if isinstance(c, frozenset) else False
                    for p, c in zip(obs["patient_id"], site_carriers)], dtype=bool)
    depth = obs["depth"].to_numpy(dtype=float)
    alt = obs["alt_count"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, alt / depth, 0.0)
    eligible = obs["sample_id"].isin(controls).to_numpy() & ~own & (depth > 0)
    high = eligible & (vaf >= exclude_vaf)
    return eligible & ~high, high


def build_background(sites: pd.DataFrame, obs: pd.DataFrame, controls: list[str],
                     params: BackgroundParams) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Fit the background for every site.

    sites: chrom, pos, ref, alt, patients (comma-separated carriers).
    obs: one row per site x counted sample: chrom, pos, ref, alt, sample_id, patient_id,
        alt_count, depth.
    Returns (background table with BACKGROUND_COLUMNS, threshold summary dict, control
    observations with their leave-one-patient-out p-values)."""
    sites = sites.copy()
    sites["site_id"] = site_key(sites)
    carriers = pd.Series([parse_patients(p) for p in sites.get("patients", [""] * len(sites))],
                         index=sites["site_id"])
    obs = obs.copy()
    obs["site_id"] = site_key(obs)
    obs = obs[obs["site_id"].isin(set(sites["site_id"]))].reset_index(drop=True)
    is_ctrl, is_high = control_mask(obs, carriers, set(controls), params.exclude_control_vaf)
    ctrl = obs[is_ctrl].copy()
    per_site = ctrl.groupby("site_id").agg(control_alt=("alt_count", "sum"),
                                           control_depth=("depth", "sum"),
                                           n_controls=("depth", "size"))
    high_counts = obs[is_high].groupby("site_id").size().rename("n_control_high_vaf")
    bg = sites.set_index("site_id")[["chrom", "pos", "ref", "alt"]].join(per_site).join(high_counts)
    for col in ("control_alt", "control_depth", "n_controls", "n_control_high_vaf"):
        bg[col] = bg[col].fillna(0).astype(int)
    bg["substitution"] = [substitution_class(r, a) for r, a in zip(bg["ref"], bg["alt"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_rate = np.where(bg["control_depth"] > 0, bg["control_alt"] / bg["control_depth"], 0.0)
    noisy_rate = (raw_rate >= params.blacklist_min_rate) & (bg["control_alt"] >= 2)

    # Class rates from the sites that are not noisy (a handful of noisy sites would otherwise
    # set the prior of every clean site of their class).
    clean = bg[~noisy_rate]
    sums = clean.groupby("substitution")[["control_alt", "control_depth"]].sum()
    overall = (clean["control_alt"].sum() / clean["control_depth"].sum()
               if clean["control_depth"].sum() > 0 else CLASS_RATE_FLOOR)
    class_rate = (sums["control_alt"] / sums["control_depth"].where(sums["control_depth"] > 0))
    prior_rate = bg["substitution"].map(class_rate).fillna(overall).clip(lower=CLASS_RATE_FLOOR)
    bg["prior_rate"] = prior_rate.to_numpy()
    # A site noisy in controls keeps its own rate: shrinking a 2% site towards a 1e-4 class
    # rate would make its errors look like a variant.
    m = np.where(noisy_rate, NOISY_PRIOR_STRENGTH, params.prior_strength)
    bg["bg_alpha"] = m * bg["prior_rate"] + bg["control_alt"]
    bg["bg_beta"] = m * (1 - bg["prior_rate"]) + bg["control_depth"] - bg["control_alt"]
    bg["background_rate"] = bg["bg_alpha"] / (bg["bg_alpha"] + bg["bg_beta"])

    # Leave-one-patient-out p-value of every control observation.
    own = ctrl.groupby(["site_id", "patient_id"])[["alt_count", "depth"]].transform("sum")
    a = ctrl["site_id"].map(bg["bg_alpha"]).to_numpy() - own["alt_count"].to_numpy()
    b = (ctrl["site_id"].map(bg["bg_beta"]).to_numpy()
         - (own["depth"] - own["alt_count"]).to_numpy())
    ctrl["p_value"] = presence_p_value(ctrl["alt_count"], ctrl["depth"], a, b)
    ctrl["positive"] = ctrl["p_value"] < params.max_p_value
    positives = ctrl.groupby("site_id")["positive"].sum()
    bg["n_control_positive"] = positives.reindex(bg.index).fillna(0).astype(int)

    n_ctrl = bg["n_controls"].to_numpy()
    n_pos = bg["n_control_positive"].to_numpy()
    n_high = bg["n_control_high_vaf"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        noisy_fraction = (n_pos >= 2) & (n_pos >= params.blacklist_min_fraction * n_ctrl)
        common = (n_high >= 2) & (n_high >= params.blacklist_min_fraction * (n_ctrl + n_high))
    reasons = []
    for r, f, c in zip(noisy_rate, noisy_fraction, common):
        reasons.append(",".join(name for name, hit in (("control_error_rate", r),
                                                        ("control_positive_fraction", f),
                                                        ("common_in_controls", c)) if hit))
    bg["blacklist_reason"] = reasons
    bg["blacklisted"] = bg["blacklist_reason"] != ""

    ctrl["blacklisted"] = ctrl["site_id"].map(bg["blacklisted"]).to_numpy()
    threshold = calibrate_threshold(ctrl.loc[~ctrl["blacklisted"], "p_value"].to_numpy(), params)
    out = bg.reset_index(drop=True)[BACKGROUND_COLUMNS]
    return out, threshold, ctrl.reset_index(drop=True)


def calibrate_threshold(control_p: np.ndarray, params: BackgroundParams) -> dict:
    """Detection threshold: the nominal ``max_p_value``, lowered when needed so that at most
    1 - ``control_specificity`` of control observations fall below it."""
    nominal = params.max_p_value
    n = int(control_p.size)
    if n == 0:
        return {"nominal_p_value": nominal, "control_quantile": np.nan, "threshold": nominal,
                "n_control_observations": 0, "control_fraction_negative": np.nan}
    ordered = np.sort(control_p)
    # Fewer than (1 - specificity) * n observations lie strictly below ordered[idx].
    idx = int(np.floor((1 - params.control_specificity) * n))
    quantile = float(ordered[min(idx, n - 1)])
    threshold = min(nominal, quantile)
    return {"nominal_p_value": nominal, "control_quantile": quantile, "threshold": threshold,
            "n_control_observations": n,
            "control_fraction_negative": float(np.mean(control_p >= threshold))}


def patient_background(bg: pd.DataFrame, patient_obs: pd.DataFrame, carriers: pd.Series,
                       controls: list[str], params: BackgroundParams) -> pd.DataFrame:
    """Background Beta(a, b) per site for testing one patient: the patient's own control
    contributions (if any of its samples served as controls) are removed.

    patient_obs: the patient's observations (site_id, sample_id, patient_id, alt_count, depth).
    Returns a frame indexed by site_id with bg_alpha, bg_beta, background_rate."""
    bg = bg.copy()
    bg["site_id"] = site_key(bg)
    bg = bg.set_index("site_id")
    is_ctrl, _ = control_mask(patient_obs, carriers, set(controls), params.exclude_control_vaf)
    own = patient_obs[is_ctrl].groupby("site_id")[["alt_count", "depth"]].sum()
    own = own.reindex(bg.index).fillna(0)
    out = pd.DataFrame(index=bg.index)
    out["bg_alpha"] = bg["bg_alpha"] - own["alt_count"]
    out["bg_beta"] = bg["bg_beta"] - (own["depth"] - own["alt_count"])
    out["background_rate"] = out["bg_alpha"] / (out["bg_alpha"] + out["bg_beta"])
    return out
