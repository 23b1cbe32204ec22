"""Background error model per locus and substitution, blacklist, and detection threshold.

Controls are samples in which a site's variant is not expected (a panel of normals for errors).
For a site, an observation in sample j is a control observation when
  - j is one of the control samples (``choose_controls``: all normals, then plasma draws, up to
    ``max_control_samples``),
  - j is a normal (white-cell DNA holds no tumour DNA), or j's patient does not carry the site,
    and
  - its VAF is below ``exclude_control_vaf`` (a real variant of that person, e.g. a germline SNP
    shared by two patients, is not an error; such observations are counted as "high VAF").
A patient carries a site when the site is among its candidates (discovered or known) *and* its
pooled plasma counts stand out from the site's level in the quiet samples, i.e. the normals and
the plasma of patients that are not candidates for it (beta-binomial p < 1e-3; see
``confirm_carriers``). A systematic artifact is "discovered" in every patient at the level it has
in the normals too; so no patient carries it, every plasma sample is a control for it, and it is
blacklisted. A real variant shared by several patients (a hotspot) is absent from the normals and
stands out in each of them.
When a patient is tested, its own samples are always taken out of the site's background, and
the blacklist is decided without them too (so a patient's own CHIP clone, seen in its normal, does
not blacklist the site for that patient).

The site's error rate gets a beta prior centred on the rate of its substitution class (six
pyrimidine-collapsed SNV classes, insertions, deletions; pooled over the clean sites and shrunk
towards the all-class rate) with ``prior_strength`` pseudo-fragments, updated with the site's
control counts: Beta(a, b). A site whose control counts alone are already noisy (see below) keeps
its own rate (prior of 10 pseudo-fragments). Presence is tested with the beta-binomial
predictive P(X >= alt | depth, a, b), which carries the uncertainty about the site's rate.

Blacklist (any of): the pooled control rate is >= ``blacklist_min_rate`` and significantly above
the class rate (binomial p < 1e-6); >= ``blacklist_min_fraction`` (and >= 2) of the control
observations test positive, each tested leave-one-patient-out; the "variant" is seen at high VAF
in >= that fraction (and >= 2) of unrelated controls.

The detection threshold is the nominal ``max_p_value``, lowered if needed so that at least
``control_specificity`` of the control observations at sites not blacklisted (each tested
leave-one-patient-out) test negative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..config import settings_kwargs
from .stats import presence_p_value

_COMPLEMENT = str.maketrans("ACGT", "TGCA")
RATE_FLOOR = 1e-6
# Pseudo-fragments with which a class rate is shrunk towards the rate over all classes.
CLASS_SHRINK_FRAGMENTS = 100_000
# Pseudo-fragments of the prior of a site already known to be noisy (its own counts dominate).
NOISY_PRIOR_STRENGTH = 10.0
# A site's control rate must exceed its class rate at this significance to count as noisy.
NOISY_MAX_P = 1e-6
# A candidate patient carries the site when its plasma VAF exceeds the other patients' median
# VAF at this significance.
CARRIER_MAX_P = 1e-3
# Weak prior of the quiet-sample level in the carrier test (the data should speak).
CARRIER_PRIOR_STRENGTH = 200.0

BACKGROUND_COLUMNS = [
    "chrom", "pos", "ref", "alt", "substitution", "control_alt", "control_depth", "n_controls",
    "n_control_positive", "n_control_high_vaf", "prior_rate", "background_rate", "bg_alpha",
    "bg_beta", "blacklisted", "blacklist_reason", "candidate_patients", "carriers",
]
CONTROL_OBS_COLUMNS = ["chrom", "pos", "ref", "alt", "sample_id", "patient_id", "sample_type",
                       "alt_count", "depth", "role", "p_value", "positive"]


@dataclass(frozen=True)
class BackgroundSettings:
    """Background model, blacklist and threshold calibration: ``variants.background`` and the
    threshold keys of ``variants.detection`` in the config (``from_config`` takes ``variants``)."""

    prior_strength: float = 2000.0
    blacklist_min_rate: float = 0.002
    blacklist_min_fraction: float = 0.2
    exclude_control_vaf: float = 0.1
    max_p_value: float = 0.001
    control_specificity: float = 0.95

    @classmethod
    def from_config(cls, variants_config: dict) -> "BackgroundSettings":
        # both sections hold other classes' keys too (max_control_samples, min_power, ...)
        detection = ("max_p_value", "control_specificity")
        return cls(
            **settings_kwargs(cls, variants_config.get("background"), "variants.background",
                              names=[f.name for f in fields(cls) if f.name not in detection],
                              strict=False),
            **settings_kwargs(cls, variants_config.get("detection"), "variants.detection",
                              names=detection, strict=False))


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


def control_roles(obs: pd.DataFrame, carriers: pd.Series, controls: set[str],
                  exclude_vaf: float) -> np.ndarray:
    """Role of each observation (site_id, sample_id, patient_id, sample_type, alt_count, depth)
    in the background: 'control', 'high_vaf' (a control sample showing a real variant), or ''.
    ``carriers`` maps site_id to the set of patients that carry the site."""
    site_carriers = obs["site_id"].map(carriers)
    own = np.array([p in c if isinstance(c, frozenset) else False
                    for p, c in zip(obs["patient_id"], site_carriers)], dtype=bool)
    normal = (obs["sample_type"] == "normal").to_numpy()
    depth = obs["depth"].to_numpy(dtype=float)
    alt = obs["alt_count"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, alt / depth, 0.0)
    eligible = obs["sample_id"].isin(controls).to_numpy() & (normal | ~own) & (depth > 0)
    high = eligible & (vaf >= exclude_vaf)
    return np.where(high, "high_vaf", np.where(eligible, "control", ""))


def confirm_carriers(candidates: pd.Series, obs: pd.DataFrame, controls: set[str],
                     rate: pd.Series, params: "BackgroundSettings") -> pd.Series:
    """Carriers of each site: candidate patients whose pooled plasma counts are improbable
    (beta-binomial p < CARRIER_MAX_P) under the level of the site in the *quiet* samples: the
    normals and the plasma of patients that are not candidates for the site (other patients
    only, control samples only, observations below ``exclude_control_vaf``). The level is the
    site's background posterior from those counts with a weak prior (CARRIER_PRIOR_STRENGTH
    pseudo-fragments at the class rate ``rate``). A systematic artifact sits at the same level
    in the quiet samples and is carried by nobody; a real variant shared by several patients
    (a hotspot) is absent from the normals and stands out in each of them. Candidates without
    counted plasma stay carriers.

    candidates: site_id -> frozenset of candidate patients; obs: site_id, sample_id,
    patient_id, sample_type, alt_count, depth."""
    weak = replace(params, prior_strength=CARRIER_PRIOR_STRENGTH)
    depth = obs["depth"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, obs["alt_count"].to_numpy(dtype=float) / depth, 0.0)
    usable = (obs["sample_id"].isin(controls).to_numpy() & (depth > 0)
              & (vaf < params.exclude_control_vaf))
    quiet_pool = obs[usable]
    plasma = obs[obs["sample_type"] != "normal"]
    pooled = plasma.groupby(["site_id", "patient_id"])[["alt_count", "depth"]].sum()
    quiet_by_site = dict(tuple(quiet_pool.groupby("site_id")))
    out = {}
    for site, cands in candidates.items():
        if not cands:
            out[site] = frozenset()
            continue
        quiet_all = quiet_by_site.get(site, quiet_pool.iloc[:0])
        normal_or_other = ((quiet_all["sample_type"] == "normal")
                           | ~quiet_all["patient_id"].isin(cands))
        kept = set()
        for patient in cands:
            if (site, patient) not in pooled.index:
                kept.add(patient)
                continue
            alt, dep = pooled.loc[(site, patient), ["alt_count", "depth"]]
            if alt == 0 or dep == 0:
                continue
            quiet = quiet_all[normal_or_other & (quiet_all["patient_id"] != patient)]
            a, b = posterior(np.array([quiet["alt_count"].sum()]),
                             np.array([quiet["depth"].sum()]),
                             np.array([float(rate.get(site, RATE_FLOOR))]), weak)
            if presence_p_value(np.array([alt]), np.array([dep]), a, b)[0] < CARRIER_MAX_P:
                kept.add(patient)
        out[site] = frozenset(kept)
    return pd.Series(out, dtype=object)


def class_rates(sums: pd.DataFrame) -> pd.Series:
    """Error rate per substitution class from per-site control sums (substitution, control_alt,
    control_depth) of clean sites, shrunk towards the all-class rate."""
    total_depth = sums["control_depth"].sum()
    overall = (max(sums["control_alt"].sum() / total_depth, RATE_FLOOR) if total_depth
               else RATE_FLOOR)
    grouped = sums.groupby("substitution")[["control_alt", "control_depth"]].sum()
    rates = (grouped["control_alt"] + overall * CLASS_SHRINK_FRAGMENTS) / (
        grouped["control_depth"] + CLASS_SHRINK_FRAGMENTS)
    rates = rates.clip(lower=RATE_FLOOR)
    rates.attrs["overall"] = overall
    return rates


def _noisy_by_rate(alt, depth, prior_rate, params: BackgroundSettings) -> np.ndarray:
    alt = np.asarray(alt, dtype=float)
    depth = np.asarray(depth, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(depth > 0, alt / depth, 0.0)
    p = np.ones(alt.shape)
    ok = (alt > 0) & (depth > 0)
    p[ok] = stats.binom.sf(alt[ok] - 1, depth[ok], np.asarray(prior_rate, dtype=float)[ok])
    return (rate >= params.blacklist_min_rate) & (alt >= 2) & (p < NOISY_MAX_P)


def posterior(alt, depth, prior_rate, params: BackgroundSettings) -> tuple[np.ndarray, np.ndarray]:
    """Beta(a, b) of a site's error rate from its control sums and its class prior."""
    alt = np.asarray(alt, dtype=float)
    depth = np.asarray(depth, dtype=float)
    prior_rate = np.asarray(prior_rate, dtype=float)
    noisy = _noisy_by_rate(alt, depth, prior_rate, params)
    m = np.where(noisy, NOISY_PRIOR_STRENGTH, params.prior_strength)
    return m * prior_rate + alt, m * (1 - prior_rate) + depth - alt


def site_table(sums: pd.DataFrame, params: BackgroundSettings) -> pd.DataFrame:
    """Background columns from per-site sums (index site_id; columns substitution, prior_rate,
    control_alt, control_depth, n_controls, n_control_positive, n_control_high_vaf)."""
    out = sums.copy()
    a, b = posterior(out["control_alt"], out["control_depth"], out["prior_rate"], params)
    out["bg_alpha"], out["bg_beta"] = a, b
    out["background_rate"] = a / (a + b)
    noisy = _noisy_by_rate(out["control_alt"], out["control_depth"], out["prior_rate"], params)
    n_ctrl = out["n_controls"].to_numpy()
    n_pos = out["n_control_positive"].to_numpy()
    n_high = out["n_control_high_vaf"].to_numpy()
    frac = params.blacklist_min_fraction
    positive = (n_pos >= 2) & (n_pos >= frac * n_ctrl)
    common = (n_high >= 2) & (n_high >= frac * (n_ctrl + n_high))
    out["blacklist_reason"] = [
        ",".join(name for name, hit in (("control_error_rate", r), ("control_positive_fraction", f),
                                        ("common_in_controls", c)) if hit)
        for r, f, c in zip(noisy, positive, common)]
    out["blacklisted"] = out["blacklist_reason"] != ""
    return out


def _clean_class_rates(totals: pd.DataFrame, params: BackgroundSettings) -> pd.Series:
    """Class rates from the sites that are not noisy. Noisiness is judged against a robust
    all-class rate (pooled over the sites whose raw control rate is below the blacklist rate),
    so that a class dominated by a few noisy sites does not hide them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(totals["control_depth"] > 0,
                       totals["control_alt"] / totals["control_depth"], 0.0)
    quiet = totals[raw < params.blacklist_min_rate]
    depth = quiet["control_depth"].sum()
    guess = max(quiet["control_alt"].sum() / depth, RATE_FLOOR) if depth else RATE_FLOOR
    clean = ~_noisy_by_rate(totals["control_alt"], totals["control_depth"],
                            np.full(len(totals), guess), params)
    return class_rates(totals[clean])


def _sums(ctrl: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    is_ctrl = ctrl["role"] == "control"
    c = ctrl[is_ctrl].groupby("site_id").agg(control_alt=("alt_count", "sum"),
                                             control_depth=("depth", "sum"),
                                             n_controls=("depth", "size"),
                                             n_control_positive=("positive", "sum"))
    h = ctrl[~is_ctrl].groupby("site_id").size().rename("n_control_high_vaf")
    out = pd.DataFrame(index=index).join(c).join(h)
    return out.fillna(0).astype(int)


def build_background(sites: pd.DataFrame, obs: pd.DataFrame, controls: list[str],
                     params: BackgroundSettings) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Fit the background for every site.

    sites: chrom, pos, ref, alt, patients (comma-separated carriers).
    obs: one row per site x counted sample: chrom, pos, ref, alt, sample_id, patient_id,
        sample_type, alt_count, depth.
    Returns (background table with BACKGROUND_COLUMNS as seen by a patient outside the cohort,
    threshold summary dict, control observations with CONTROL_OBS_COLUMNS: role 'control' or
    'high_vaf', leave-one-patient-out p-value, positive flag)."""
    sites = sites.copy()
    sites["site_id"] = site_key(sites)
    sites = sites.drop_duplicates("site_id")
    candidates = pd.Series([parse_patients(p) for p in sites.get("patients", [""] * len(sites))],
                           index=sites["site_id"])
    obs = obs.copy()
    obs["site_id"] = site_key(obs)
    obs = obs[obs["site_id"].isin(set(sites["site_id"]))].reset_index(drop=True)
    index = pd.Index(sites["site_id"], name="site_id")
    meta = sites.set_index("site_id")[["chrom", "pos", "ref", "alt"]]
    meta["substitution"] = [substitution_class(r, a) for r, a in zip(meta["ref"], meta["alt"])]

    # First pass: every candidate patient counts as a carrier; class rates from clean sites.
    roles = control_roles(obs, candidates, set(controls), params.exclude_control_vaf)
    first_pass = obs.assign(role=roles, positive=False)
    first = _sums(first_pass[first_pass["role"] != ""], index).join(meta["substitution"])
    rates = _clean_class_rates(first, params)
    site_rate = first["substitution"].map(rates).fillna(rates.attrs["overall"])
    # Second pass: only candidates whose plasma stands out from the other patients carry it.
    carriers = confirm_carriers(candidates, obs, set(controls), site_rate, params)
    obs["role"] = control_roles(obs, carriers, set(controls), params.exclude_control_vaf)
    ctrl = obs[obs["role"] != ""].copy()
    ctrl["positive"] = False
    totals = _sums(ctrl, index).join(meta["substitution"])
    rates = _clean_class_rates(totals, params)
    totals["prior_rate"] = totals["substitution"].map(rates).fillna(
        rates.attrs["overall"]).clip(lower=RATE_FLOOR)

    # Leave-one-patient-out p-value of every control observation.
    c = ctrl["role"] == "control"
    own = ctrl[c].groupby(["site_id", "patient_id"])[["alt_count", "depth"]].transform("sum")
    sub = ctrl[c]
    alt_minus = sub["site_id"].map(totals["control_alt"]).to_numpy() - own["alt_count"].to_numpy()
    depth_minus = sub["site_id"].map(totals["control_depth"]).to_numpy() - own["depth"].to_numpy()
    a, b = posterior(alt_minus, depth_minus, sub["site_id"].map(totals["prior_rate"]).to_numpy(),
                     params)
    ctrl["p_value"] = np.nan
    ctrl.loc[c, "p_value"] = presence_p_value(sub["alt_count"], sub["depth"], a, b)
    ctrl.loc[c, "positive"] = ctrl.loc[c, "p_value"] < params.max_p_value

    sums = _sums(ctrl, index).join(totals[["substitution", "prior_rate"]])
    table = site_table(sums, params).join(meta[["chrom", "pos", "ref", "alt"]])
    table["candidate_patients"] = candidates.map(lambda c: ",".join(sorted(c)))
    table["carriers"] = carriers.reindex(table.index).map(
        lambda c: ",".join(sorted(c)) if isinstance(c, frozenset) else "")
    blacklisted = ctrl["site_id"].map(table["blacklisted"]).to_numpy()
    threshold = calibrate_threshold(ctrl.loc[c & ~blacklisted, "p_value"].to_numpy(), params)
    return (table.reset_index(drop=True)[BACKGROUND_COLUMNS], threshold,
            ctrl.reset_index(drop=True)[CONTROL_OBS_COLUMNS])


def calibrate_threshold(control_p: np.ndarray, params: BackgroundSettings) -> dict:
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


def patient_background(bg: pd.DataFrame, control_obs: pd.DataFrame, patient_id: str,
                       params: BackgroundSettings) -> pd.DataFrame:
    """The background as seen by one patient: its own control observations (if any of its
    samples served as controls) are removed from the sums, and the blacklist is re-decided.

    bg: background table (BACKGROUND_COLUMNS); control_obs: CONTROL_OBS_COLUMNS.
    Returns a frame indexed by site_id with bg_alpha, bg_beta, background_rate, blacklisted,
    blacklist_reason."""
    table = bg.copy()
    table["site_id"] = site_key(table)
    table = table.set_index("site_id")
    own = control_obs[control_obs["patient_id"].astype(str) == str(patient_id)].copy()
    if own.empty:
        return table[["bg_alpha", "bg_beta", "background_rate", "blacklisted", "blacklist_reason"]]
    own["site_id"] = site_key(own)
    own["positive"] = own["positive"].astype(str).str.lower().isin(["true", "1"])
    own_sums = _sums(own, table.index)
    sums = table[["substitution", "prior_rate"]].copy()
    for col in ("control_alt", "control_depth", "n_controls", "n_control_positive",
                "n_control_high_vaf"):
        sums[col] = table[col] - own_sums[col]
    out = site_table(sums, params)
    return out[["bg_alpha", "bg_beta", "background_rate", "blacklisted", "blacklist_reason"]]
