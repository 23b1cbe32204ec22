"""Tumour fraction from clonal somatic SNVs with their copy number (issue 18; rule ``cnv_combine``).

The variants stage's estimate (``variants/snv_tf.py``) reads TF = 2 x VAF, which assumes every
clonal SNV sits on one of two tumour copies. It is wrong for an SNV at tumour copy number 1
(VAF = t / (t + 2 (1 - t))), for a truncal SNV duplicated by a gain or copy-neutral LOH (it reads
2 x), and its clonal set, chosen on VAF alone, takes such SNVs as the clonal level. Here each SNV
carries its segment's tumour copy numbers and the estimate is a likelihood fit.

Model. A clonal SNV on ``m`` of the tumour's ``C`` copies of its segment shows, in a draw of TF
``t`` (the tumour's share of the plasma's genome copies) from a tumour of mean copy number ``P``
(the path's ploidy, on the same scale as ``C``), ``VAF(t) = t m / (t C + P (1 - t))`` plus the
background error rate of its site (``P = 2``: the cellular formula of a diploid tumour).
``C`` and the minor copy number come from the copy-number stage's HMM path of the patient's most
informative draw and the allelic fit of the heterozygous germline SNPs on it (``cnv/baf.py``,
``fit_baf``: the same segments as the BAF evidence); neither reads the SNV TF, so there is no
loop. The candidate multiplicities of an SNV are ``{1, major}`` plus ``minor`` where it is at
least 2 (a truncal SNV before a gain or LOH is on every copy of its haplotype, after it on one).

State of an SNV (``snv_states``): ``resolved`` (in a segment of known total and, where it
matters, known minor copy number), ``amplified`` (in an amplification-state bin: the copy number
is only known to exceed the HMM's maximum), ``no_allelic_state`` (total >= 2 but no het SNP to
fit the minor copy number), ``deleted`` (a segment at copy number 0), ``outside`` (not in any
segment). Resolved SNVs and those without an allelic state (their candidate multiplicities are
then every one the total allows, ``unphased_multiplicities``) choose the clonal set when at
least ``MIN_RESOLVED`` of them are eligible; otherwise every eligible SNV is used, the others at
C = 2, m = 1 (the variants stage's model), and ``snv_model`` says so.

Clonal set (per patient, every draw pooled) and the likelihood: ``cnv/snv_clonal_set.py``.

Per draw, ``t`` maximises the binomial likelihood of the clonal set's counts on a grid (step
5e-4); the 95% interval is ``{t: 2 (l_max - l(t)) / phi <= 3.84}`` with ``phi`` the Pearson
overdispersion of the SNVs at the estimate (at least 1: the variants stage's quasi-binomial
widening), and the p-value against TF 0 is the variants stage's pooled background test with the
same ``phi``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .snv_clonal_set import (CHI2_95, GRID, clonal_set, expected_vaf, fit_tf,  # noqa: F401
                             implied_tf, pooled_counts)
from ..variants.stats import pooled_background_p_value

# Fewer eligible resolved SNVs than this and the unresolved ones are used too (at C = 2, m = 1).
MIN_RESOLVED = 2
STATE_COLUMNS = ["site_id", "total_copy", "major_copy", "minor_copy", "state"]
DRAW_COLUMNS = ["sample_id", "tumour_fraction_snv", "tf_snv_lower", "tf_snv_upper",
                "tf_snv_p_value", "n_variants", "snv_overdispersion", "snv_model",
                "snv_clonal_states", "n_snv_unresolved"]


@dataclass(frozen=True)
class PatientCopyNumber:
    """A patient's copy-number segments (chromosome, start, end 0-based half-open, total_copy,
    minor_copy NaN where not fitted, amp) and the allelic overdispersion of its assay (the
    beta-binomial ``rho`` fitted on the matched normal's hets, ``cnv/baf.py``; 0 = binomial)."""

    segments: pd.DataFrame
    overdispersion: float = 0.0

    @property
    def ploidy(self) -> float:
        """The tumour's mean copy number on the path's scale: the segments' total copy numbers
        weighted by length, amplification-state runs left out (their copy number is only a
        lower bound and they are focal); 2 without segments."""
        seg = self.segments
        if not len(seg):
            return 2.0
        keep = ~seg["amp"].astype(bool).to_numpy()
        length = (seg["end"] - seg["start"]).to_numpy(float)[keep]
        if length.sum() <= 0:
            return 2.0
        return float((seg["total_copy"].to_numpy(float)[keep] * length).sum() / length.sum())


def multiplicities(total: int, major: int, minor: int) -> tuple[int, ...]:
    """Candidate mutant copy numbers of a clonal SNV: 1, the major and (>= 2) the minor copy
    number."""
    return tuple(sorted({1, major} | ({minor} if minor >= 2 else set()))) if total >= 1 else ()


def unphased_multiplicities(total: int) -> tuple[int, ...]:
    """Candidate mutant copy numbers of a clonal SNV whose segment's minor copy number is not
    known (no het SNP on it): 1 and every major copy number the total allows,
    ``ceil(total / 2) .. total``."""
    return tuple(sorted({1} | set(range((total + 1) // 2, total + 1)))) if total >= 1 else ()


# ----------------------------------------------------------------------------------------------
# Copy-number state of each SNV


def snv_states(sites: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """STATE_COLUMNS for ``sites`` (site_id, chrom, pos 1-based) in ``segments`` (chromosome,
    start, end 0-based half-open, total_copy, minor_copy NaN where not fitted, amp)."""
    from .baf import assign_segments

    idx = assign_segments(sites, segments) if len(segments) else np.full(len(sites), -1)
    rows = []
    for site, k in zip(sites["site_id"], idx):
        if k < 0:
            rows.append((site, -1, -1, -1, "outside"))
            continue
        seg = segments.iloc[int(k)]
        total, minor = int(seg["total_copy"]), seg["minor_copy"]
        if bool(seg["amp"]):
            rows.append((site, total, -1, -1, "amplified"))
        elif total <= 1:
            rows.append((site, total, total, 0, "resolved" if total == 1 else "deleted"))
        elif not math.isfinite(float(minor)):
            rows.append((site, total, -1, -1, "no_allelic_state"))
        else:
            rows.append((site, total, total - int(minor), int(minor), "resolved"))
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


# ----------------------------------------------------------------------------------------------
# The fit per draw (the clonal set and the likelihood: ``variants/clonal_set.py``)


def _draw_row(sample_id: str, obs: pd.DataFrame, cf: ClonalFit | None) -> dict:
    """DRAW_COLUMNS of one draw from its observations of the clonal set."""
    row = {"sample_id": sample_id, "n_variants": len(obs)}
    if obs.empty:
        return {**row, "tumour_fraction_snv": np.nan, "tf_snv_lower": np.nan,
                "tf_snv_upper": np.nan, "tf_snv_p_value": np.nan, "snv_overdispersion": np.nan}
    fit = cf.fit(obs)
    alt, depth = obs["alt_count"].to_numpy(float), obs["depth"].to_numpy(float)
    bg_pooled = float((depth * obs["background_rate"].to_numpy(float)).sum() / depth.sum())
    return {**row, "tumour_fraction_snv": fit["t"], "tf_snv_lower": fit["lower"],
            "tf_snv_upper": fit["upper"], "snv_overdispersion": fit["phi"],
            "tf_snv_p_value": pooled_background_p_value(alt.sum(), depth.sum(), bg_pooled,
                                                        fit["phi"])}


def _eligible(t: pd.DataFrame, min_depth: int, left_out) -> pd.DataFrame:
    """The patient's plasma observations of somatic SNVs detected in at least one plasma draw
    (depth >= ``min_depth``; draws in ``left_out`` do not choose), as the variants stage."""
    plasma = t[(t["sample_type"] != "normal") & (t["depth"] >= min_depth)
               & ~t["sample_id"].isin(list(left_out))]
    somatic = plasma[(plasma["category"] == "somatic") & (plasma["variant_type"] == "snv")]
    seen = set(somatic.loc[somatic["status"] == "detected", "site_id"])
    return somatic[somatic["site_id"].isin(seen)]


def _usable_states(sites: pd.DataFrame, segments: pd.DataFrame) -> tuple[pd.DataFrame, str, int]:
    """States (site_id index, with ``cands``) of the SNVs that may choose the clonal set, the
    model name and how many eligible SNVs were left out as unresolved."""
    states = snv_states(sites, segments).set_index("site_id")
    # an unknown minor copy number widens the candidate multiplicities, it does not hide the SNV
    resolved = states["state"].isin(["resolved", "no_allelic_state"])
    if resolved.sum() >= MIN_RESOLVED:
        states = states[resolved]
        model, left = "copy_number", int((~resolved).sum())
    else:
        # too few resolved SNVs: the unresolved ones at the variants stage's C = 2, m = 1
        states.loc[~resolved, ["total_copy", "major_copy", "minor_copy"]] = (2, 1, 1)
        model, left = ("copy_number+2xVAF" if resolved.any() else "2xVAF"), 0
    states["cands"] = [multiplicities(int(c), int(M), int(m)) if s == "resolved" else
                       unphased_multiplicities(int(c)) if s == "no_allelic_state" else (1,)
                       for c, M, m, s in zip(states["total_copy"], states["major_copy"],
                                             states["minor_copy"], states["state"])]
    return states, model, left


@dataclass(frozen=True)
class ClonalFit:
    """One patient's clonal SNVs on its copy number: ``chosen`` (site -> multiplicity),
    ``states`` (site_id index: total_copy, ...), the model name, how many eligible SNVs were
    left out, the ploidy the VAFs are read with, and the observations of the clonal set."""

    chosen: dict
    states: pd.DataFrame
    model: str
    left: int
    ploidy: float
    usable: pd.DataFrame

    def fit(self, obs: pd.DataFrame) -> dict:
        """:func:`fit_tf` of one draw's observations of the clonal set."""
        return fit_tf(obs["alt_count"].to_numpy(float), obs["depth"].to_numpy(float),
                      obs["background_rate"].to_numpy(float),
                      self.states.loc[obs["site_id"], "total_copy"].to_numpy(float),
                      obs["site_id"].map(self.chosen).to_numpy(float), self.ploidy)


def clonal_fit(t: pd.DataFrame, copy_number: PatientCopyNumber, cluster_ratio: float = 0.6,
               min_depth: int = 50, left_out=()) -> ClonalFit | None:
    """The clonal set of one patient's tracked rows ``t`` (site_id, sample_id, sample_type,
    chrom, pos, category, variant_type, status, alt_count, depth, background_rate) on its copy
    number; None without eligible SNVs."""
    eligible = _eligible(t, min_depth, left_out)
    if eligible.empty:
        return None
    sites = eligible.drop_duplicates("site_id")[["site_id", "chrom", "pos"]]
    states, model, left = _usable_states(sites, copy_number.segments)
    pooled = pooled_counts(eligible[eligible["site_id"].isin(states.index)])
    # SNVs read at the variants stage's C = 2 are on the diploid scale, not the path's.
    ploidy = copy_number.ploidy if model == "copy_number" else 2.0
    chosen = clonal_set(pooled, states, cluster_ratio, copy_number.overdispersion, ploidy)
    usable = t[t["site_id"].isin(list(chosen)) & (t["depth"] >= min_depth)]
    return ClonalFit(chosen, states, model, left, ploidy, usable)


def patient_tumour_fraction(t: pd.DataFrame, copy_number: PatientCopyNumber,
                            cluster_ratio: float = 0.6, min_depth: int = 50,
                            left_out=()) -> pd.DataFrame:
    """DRAW_COLUMNS for every sample of one patient's tracked rows ``t`` (as
    :func:`clonal_fit`) on its copy number (see :func:`snv_states`)."""
    samples = list(pd.unique(t["sample_id"]))
    cf = clonal_fit(t, copy_number, cluster_ratio, min_depth, left_out)
    if cf is None:
        return pd.DataFrame([_draw_row(s, t.iloc[:0], {}, None) for s in samples]).assign(
            snv_model="", snv_clonal_states="", n_snv_unresolved=0)[DRAW_COLUMNS]
    by_sample = dict(tuple(cf.usable.groupby("sample_id", sort=False)))
    label = ",".join(f"{s}:C{int(cf.states.loc[s, 'total_copy'])}:m{m}"
                     for s, m in cf.chosen.items())
    rows = [_draw_row(s, by_sample.get(s, cf.usable.iloc[:0]), cf) for s in samples]
    return pd.DataFrame(rows).assign(snv_model=cf.model, snv_clonal_states=label,
                                     n_snv_unresolved=cf.left)[DRAW_COLUMNS]


def with_site_ids(tracked: pd.DataFrame) -> pd.DataFrame:
    """``tracked`` with numeric counts and ``site_id`` (chrom:pos:ref>alt)."""
    t = tracked.copy()
    for col in ("alt_count", "depth", "background_rate"):
        t[col] = pd.to_numeric(t[col], errors="coerce").fillna(0.0)
    t["site_id"] = (t["chrom"].astype(str) + ":" + t["pos"].astype(str) + ":"
                    + t["ref"].astype(str) + ">" + t["alt"].astype(str))
    return t


def snv_copy_number_tumour_fraction(tracked: pd.DataFrame,
                                    copy_number: dict[str, PatientCopyNumber],
                                    cluster_ratio: float = 0.6, min_depth: int = 50
                                    ) -> pd.DataFrame:
    """DRAW_COLUMNS for every sample of the patients in ``copy_number``; ``tracked`` is
    tracked_variants.tsv."""
    t = with_site_ids(tracked)
    parts = [patient_tumour_fraction(t[t["patient_id"].astype(str) == str(p)], seg,
                                     cluster_ratio, min_depth)
             for p, seg in sorted(copy_number.items())]
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame(columns=DRAW_COLUMNS))
