"""The residual-disease call of each draw: pooled evidence of the patient's variants against
the background, with outliers left out (``MRD_COLUMNS`` of ``results/mrd/mrd_calls.tsv``).

Inputs are typed frames (no files): the cohort's MRD sites (one row per patient x variant:
patient_id, site_id, klass, weight and, plasma-informed, ``found_in``: the draws in which the
variant was detected), the molecule counts of every sample at every site (sample_id, site_id,
mutant, depth) and the draws (sample_id, patient_id, sample_type, timepoint_days)."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy import stats

from ..qc.identity_exclusion import mark_left_out
from .background import control_mask, site_background
from .fragment_length import (LengthBins, LengthRatios, binned_evidence, has_length_counts,
                              healthy_short_share, ratios_for, tumour_short_share)
from .model import (Evidence, fit_tf, lr_statistic, mc_p_value, poisson_lod95, tf_interval)
from .settings import MrdSettings

MRD_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "n_variants", "informative_molecules",
               "mutant_molecules", "background_expected", "tumour_fraction", "tf_lower",
               "tf_upper", "p_value", "lod95", "status", "note"]
DETECTED, NOT_DETECTED, NOT_EVALUABLE = "detected", "not_detected", "not_evaluable"
TUMOUR_INFORMED, PLASMA_INFORMED = "tumour-informed", "plasma-informed"


def find_outliers(ev: Evidence, max_p: float, max_fraction: float) -> list[tuple[int, float]]:
    """Variants far above the pooled level, most extreme first: (index, p-value) of each whose
    mutant count is improbable (binomial p < ``max_p``) under the TF fitted without it. At most
    ``max_fraction`` of the variants (at least one) are returned."""
    keep = np.ones(ev.depth.size, dtype=bool)
    found: list[tuple[int, float]] = []
    limit = max(1, int(max_fraction * ev.depth.size))
    while len(found) < limit and keep.sum() > 1:
        current = ev.subset(keep)
        p_in = current.rate + float(fit_tf(current)) * current.weight
        p_full = stats.binom.sf(current.mutant - 1, current.depth, p_in)
        worst = int(np.argmin(p_full))
        if p_full[worst] >= max_p:
            break
        index = int(np.flatnonzero(keep)[worst])
        keep[index] = False
        rest = ev.subset(keep)
        p_out = ev.rate[index] + float(fit_tf(rest)) * ev.weight[index]
        p_loo = float(stats.binom.sf(ev.mutant[index] - 1, ev.depth[index], p_out))
        if p_loo >= max_p:
            keep[index] = True
            break
        found.append((index, p_loo))
    return found


def call_draw(ev: Evidence, labels: list[str], settings: MrdSettings,
              rng: np.random.Generator, bins: LengthBins | None = None,
              ratios: LengthRatios | None = None) -> dict:
    """The call of one draw: MRD_COLUMNS from n_variants on, given its evidence and the
    variants' labels (``chrom:pos:ref>alt``); with ``bins`` and ``ratios`` the TF, its interval
    and the p-value weight each molecule by its length bin (``fragment_length``); the outliers,
    counts and lod95 stay per site, unweighted."""
    notes: list[str] = []
    outliers = find_outliers(ev, settings.outlier_max_p, settings.outlier_max_fraction)
    if outliers:
        keep = np.ones(ev.depth.size, dtype=bool)
        keep[[i for i, _ in outliers]] = False
        notes.append("outlier variants left out (CHIP, germline or tissue artefact?): " + "; ".join(
            f"{labels[i]} {int(ev.mutant[i])}/{int(ev.depth[i])} (p={p:.1e})" for i, p in outliers))
        ev = ev.subset(keep)
        bins = None if bins is None else bins.subset(keep)
    row = {"n_variants": int(ev.depth.size), "informative_molecules": ev.informative,
           "mutant_molecules": int(np.sum(ev.mutant)),
           "background_expected": ev.background_expected}
    signal = float(np.sum(ev.depth * ev.weight))
    row["lod95"] = poisson_lod95(row["background_expected"], signal, settings.max_p_value)
    if row["informative_molecules"] < settings.min_informative_molecules:
        notes.append(f"fewer than {settings.min_informative_molecules} informative molecules")
        return {**row, "tumour_fraction": np.nan, "tf_lower": np.nan, "tf_upper": np.nan,
                "p_value": np.nan, "status": NOT_EVALUABLE, "note": "; ".join(notes)}
    if bins is not None and ratios is not None:
        ev = binned_evidence(ev, bins, ratios)
        notes.append(ratios.describe())
    tf = float(fit_tf(ev))
    lower, upper = tf_interval(ev, tf)
    observed = float(lr_statistic(ev)[0])
    p_value = mc_p_value(ev, observed, settings.n_simulations, rng)
    status = DETECTED if p_value < settings.max_p_value else NOT_DETECTED
    return {**row, "tumour_fraction": tf, "tf_lower": lower, "tf_upper": upper,
            "p_value": p_value, "status": status, "note": "; ".join(notes)}


def draw_rng(seed: int, sample_id: str) -> np.random.Generator:
    """A Monte Carlo stream per draw: the same call whatever the order or subset of draws."""
    return np.random.default_rng([seed, zlib.crc32(sample_id.encode())])


def _site_counts(sites: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """One draw's counts at ``sites`` (rows of the patient's sites, in order; 0 if not counted)."""
    return counts.set_index("site_id").reindex(sites["site_id"]).fillna(0)


def _evidence(sites: pd.DataFrame, c: pd.DataFrame, background: pd.DataFrame,
              level, prior_shape: float) -> Evidence:
    """The evidence of one draw at ``sites`` from its counts there (``_site_counts``)."""
    bg = background.loc[sites["site_id"]]
    return Evidence(depth=c["depth"].to_numpy(float), mutant=c["mutant"].to_numpy(float),
                    rate=bg["background_rate"].to_numpy(float),
                    weight=sites["weight"].to_numpy(float),
                    prior_rate=bg["class_rate"].to_numpy(float),
                    control_mutant=bg["control_mutant"].to_numpy(float),
                    control_depth=bg["control_depth"].to_numpy(float),
                    prior_shape=prior_shape, level_alpha=level.alpha,
                    level_beta=level.beta)


def patient_controls(patient: str, sites: pd.DataFrame, counts: pd.DataFrame,
                     draws: pd.DataFrame, settings: MrdSettings) -> pd.DataFrame:
    """Control observations of ``patient``'s sites: every normal, and the plasma of the other
    patients that do not carry the site; real variants of those people (VAF at or above
    ``exclude_control_vaf``) left out."""
    own_sites = set(sites.loc[sites["patient_id"] == patient, "site_id"])
    meta = draws.set_index("sample_id")[["patient_id", "sample_type"]]
    obs = counts[counts["site_id"].isin(own_sites)].join(meta, on="sample_id")
    carriers = set(zip(sites["patient_id"], sites["site_id"]))
    carried = np.array([(p, s) in carriers for p, s in zip(obs["patient_id"], obs["site_id"])],
                       dtype=bool)
    normal = (obs["sample_type"] == "normal").to_numpy()
    other = (obs["patient_id"] != patient).to_numpy()
    eligible = normal | (other & ~carried)
    eligible &= control_mask(obs["depth"], obs["mutant"], settings.exclude_control_vaf)
    return obs[eligible]


def call_patient(patient: str, sites: pd.DataFrame, counts: pd.DataFrame, draws: pd.DataFrame,
                 settings: MrdSettings, mode: str,
                 by_sample: dict[str, pd.DataFrame] | None = None,
                 tumour_short: float | None = None) -> list[dict]:
    """The calls of every plasma draw of ``patient`` (mode TUMOUR_INFORMED or PLASMA_INFORMED);
    ``by_sample``: ``counts`` split by sample_id, when the caller has it already;
    ``tumour_short``: the tumour's short-fragment share, for fragment-length weighting."""
    if by_sample is None:
        by_sample = dict(tuple(counts.groupby("sample_id")))
    mine = sites[sites["patient_id"] == patient].reset_index(drop=True)
    controls = patient_controls(patient, sites, counts, draws, settings)
    background, level, shape = site_background(mine, controls, settings.max_prior_shape)
    plasma = draws[(draws["patient_id"] == patient) & (draws["sample_type"] == "plasma")]
    rows = []
    for draw in plasma.itertuples(index=False):
        use = mine
        if mode == PLASMA_INFORMED:
            use = mine[[bool(set(f.split(",")) - {"", draw.sample_id})
                        for f in mine["found_in"].fillna("")]]
        head = {"sample_id": draw.sample_id, "patient_id": patient,
                "timepoint_days": draw.timepoint_days}
        if use.empty:
            rows.append({**head, **_not_evaluable(_NO_VARIANTS[mode])})
            continue
        if level.molecules == 0:
            rows.append({**head, **_not_evaluable(NO_CONTROLS)})
            continue
        own = _site_counts(use, by_sample.get(draw.sample_id, counts.iloc[:0]))
        ev = _evidence(use, own, background, level, shape)
        labels = list(use["site_id"])
        ratios, why_not = _length_ratios(own, tumour_short, settings)
        bins = LengthBins.from_counts(own) if ratios is not None else None
        call = call_draw(ev, labels, settings, draw_rng(settings.seed, draw.sample_id), bins,
                         ratios)
        call["note"] = "; ".join(x for x in (
            "plasma-informed: variants found in the patient's other draws"
            if mode == PLASMA_INFORMED else "", call["note"], why_not) if x)
        rows.append({**head, **call})
    return rows


_NO_VARIANTS = {PLASMA_INFORMED: "no variant of this patient was found in its other draws",
                TUMOUR_INFORMED: "no tumour variant of this patient"}
NO_CONTROLS = ("no control molecules at this patient's sites (no normal, healthy-donor plasma or "
               "other patient's draw was counted there): no background to test against")


def _not_evaluable(why: str) -> dict:
    return {"n_variants": 0, "informative_molecules": 0, "mutant_molecules": 0,
            "background_expected": 0.0, "tumour_fraction": np.nan, "tf_lower": np.nan,
            "tf_upper": np.nan, "p_value": np.nan, "lod95": np.nan, "status": NOT_EVALUABLE,
            "note": why}


def call_cohort(sites: pd.DataFrame, counts: pd.DataFrame, draws: pd.DataFrame,
                settings: MrdSettings, mode: str, left_out: dict[str, str] | None = None
                ) -> pd.DataFrame:
    """MRD_COLUMNS for every plasma draw of every patient that has a draw, sorted by patient and
    time. ``left_out``: samples that failed identity (None when identity is not run): they are
    nobody's control (their individual is unknown: a swapped draw carries its true patient's
    tumour), their own call is kept, with ``excluded`` appended and the reason in ``note``."""
    rows = []
    by_sample = dict(tuple(counts.groupby("sample_id")))
    controls = counts[~counts["sample_id"].isin(list(left_out or {}))]
    patients = sorted(draws.loc[draws["sample_type"] == "plasma", "patient_id"].unique())
    tumour_short = (cohort_tumour_short(patients, sites, controls, draws, settings, by_sample)
                    if settings.fragment_length_weighting and has_length_counts(counts) else None)
    for patient in patients:
        rows.extend(call_patient(patient, sites, controls, draws, settings, mode, by_sample,
                                 tumour_short))
    out = pd.DataFrame(rows, columns=MRD_COLUMNS)
    out = out.sort_values(["patient_id", "timepoint_days", "sample_id"],
                          kind="mergesort").reset_index(drop=True)
    return out if left_out is None else mark_left_out(out, left_out)


def _length_ratios(own: pd.DataFrame, tumour_short: float | None,
                   settings: MrdSettings) -> tuple[LengthRatios | None, str]:
    """A draw's length-bin ratios, its healthy short share from its own molecules (``own``:
    its counts at its sites), or None when not weighting and, if weighting was asked for and
    cannot be done, why."""
    if not settings.fragment_length_weighting:
        return None, ""
    if not has_length_counts(own):
        return None, "fragment-length weighting off: the counts carry no fragment lengths"
    return ratios_for(healthy_short_share(own), tumour_short)


def cohort_tumour_short(patients: list[str], sites: pd.DataFrame, controls: pd.DataFrame,
                        draws: pd.DataFrame, settings: MrdSettings,
                        by_sample: dict[str, pd.DataFrame]) -> float | None:
    """The tumour's short-fragment share learnt from the cohort's high-TF draws
    (``fragment_length.tumour_short_share``): each plasma draw's mutant molecules of known
    length, the short ones, and its expected background among them."""
    rows = []
    for patient in patients:
        mine = sites[sites["patient_id"] == patient].reset_index(drop=True)
        own_controls = patient_controls(patient, sites, controls, draws, settings)
        background, _, _ = site_background(mine, own_controls, settings.max_prior_shape)
        rate = background.loc[mine["site_id"], "background_rate"].to_numpy(float)
        plasma = draws[(draws["patient_id"] == patient) & (draws["sample_type"] == "plasma")]
        for sample in plasma["sample_id"]:
            c = _site_counts(mine, by_sample.get(sample, controls.iloc[:0]))
            rows.append({"mutant_sized": c["mutant_sized"].sum(),
                         "mutant_short": c["mutant_short"].sum(),
                         "background_sized": float(np.sum(c["depth_sized"].to_numpy() * rate)),
                         "healthy_short": healthy_short_share(c)})
    table = pd.DataFrame(rows, columns=["mutant_sized", "mutant_short", "background_sized",
                                        "healthy_short"]).dropna()
    return tumour_short_share(table)
