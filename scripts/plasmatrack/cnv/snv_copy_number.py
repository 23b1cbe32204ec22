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

Clonal set (per patient, every draw pooled, as the variants stage does): each (SNV, m) gives a
level (the TF at which the pooled VAF is expected); the group of a level is every SNV with a
multiplicity whose pooled counts are consistent with it (two-sided test p >= 0.01, the counts
divided by the beta-binomial inflation of the normal's allelic overdispersion; within
``cluster_ratio`` of it). A group is dropped when a larger group at a lower level holds at least
half of its SNVs at a higher multiplicity: two SNVs duplicated by LOH read a level twice the
truncal one, and the truncal level explains them (m = 2) and the single-copy truncal SNVs
besides; SNVs at the same multiplicity in both never count, so a subclone just below the trunk
does not take it over. Of the groups left, the one at the highest level with at least two SNVs
is the clonal set (subclones sit below it); with none, the highest single SNV.

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
from scipy import special

from ..variants.snv_tf import CONSISTENCY_P
from ..variants.stats import pooled_background_p_value

GRID = np.linspace(0.0, 1.0, 2001)
CHI2_95 = 3.841458820694124
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


def expected_vaf(t, total, mult, ploidy=2.0):
    """VAF of a clonal SNV on ``mult`` of ``total`` tumour copies when the tumour, of mean copy
    number ``ploidy`` (on the same scale as ``total``), holds a share ``t`` of the plasma's
    genome copies (broadcasts): ``t m / (t C + P (1 - t))``. A genome-doubled tumour read at
    half its copies (``total``, ``mult`` and ``ploidy`` all halved) gives the same VAF, so the
    fit does not depend on which of the two scales the copy-number path found."""
    t = np.asarray(t, float)
    return t * mult / (t * total + ploidy * (1.0 - t))


def implied_tf(vaf, total, mult, ploidy=2.0):
    """The TF at which ``expected_vaf`` equals ``vaf`` (NaN where no TF in [0, 1] does)."""
    vaf = np.asarray(vaf, float)
    denom = mult + vaf * (ploidy - total)
    t = np.where(denom > 0, ploidy * vaf / np.where(denom > 0, denom, 1.0), np.nan)
    return np.where((t >= 0) & (t <= 1), t, np.nan)


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
# Clonal set


def _pooled(obs: pd.DataFrame) -> pd.DataFrame:
    """Per site: alt, depth and expected background fragments over the draws."""
    return obs.assign(bg_alt=obs["depth"] * obs["background_rate"]).groupby("site_id")[
        ["alt_count", "depth", "bg_alt"]].sum()


def _two_sided_p(alt, depth, rate, rho: float) -> np.ndarray:
    """Two-sided p of ``alt`` of ``depth`` fragments at ``rate`` (arrays broadcast), the counts
    divided by the beta-binomial variance inflation ``1 + (depth - 1) rho`` (a quasi-binomial
    test, continuous in the counts; the exact binomial at ``rho`` = 0)."""
    rate = np.clip(rate, 1e-9, 1 - 1e-9)
    phi = 1.0 + np.maximum(np.asarray(depth, float) - 1.0, 0.0) * rho
    k, n = alt / phi, depth / phi
    low = special.betainc(np.maximum(n - k, 1e-9), k + 1.0, 1.0 - rate)  # P(K <= k)
    high = np.where(k > 0, special.betainc(np.maximum(k, 1e-9), n - k + 1.0, rate), 1.0)
    return np.minimum(1.0, 2.0 * np.minimum(low, high))


@dataclass(frozen=True)
class _Sites:
    """One patient's eligible SNVs as arrays: pooled counts, background rate, tumour copy
    number and the candidate multiplicities (``cands``, one row per SNV, 0 = none)."""

    ids: np.ndarray
    alt: np.ndarray
    depth: np.ndarray
    bg: np.ndarray
    total: np.ndarray
    cands: np.ndarray
    ploidy: float = 2.0

    @classmethod
    def of(cls, pooled: pd.DataFrame, states: pd.DataFrame, ploidy: float = 2.0) -> "_Sites":
        st = states.loc[pooled.index]
        width = max((len(c) for c in st["cands"]), default=1)
        cands = np.array([list(c) + [0] * (width - len(c)) for c in st["cands"]], float)
        depth = pooled["depth"].to_numpy(float)
        return cls(pooled.index.to_numpy(), pooled["alt_count"].to_numpy(float), depth,
                   pooled["bg_alt"].to_numpy(float) / depth, st["total_copy"].to_numpy(float),
                   cands.reshape(len(st), width), ploidy)

    @property
    def levels(self) -> np.ndarray:
        """The TF at which each (SNV, candidate multiplicity) is expected, NaN where none."""
        vaf = np.clip(self.alt / self.depth - self.bg, 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = implied_tf(vaf[:, None], self.total[:, None], self.cands, self.ploidy)
        return np.where(self.cands > 0, t, np.nan)


def _group(s: _Sites, level: float, cluster_ratio: float, rho: float) -> dict[str, int]:
    """Site -> multiplicity of every site consistent with ``level``: of the candidates within
    ``cluster_ratio`` of it, the one whose pooled counts fit it best (two-sided p >=
    CONSISTENCY_P)."""
    ratio = s.levels / level
    near = (ratio >= cluster_ratio) & (ratio <= 1.0 / cluster_ratio)
    rate = expected_vaf(level, s.total[:, None], s.cands, s.ploidy) + s.bg[:, None]
    p = _two_sided_p(s.alt[:, None], s.depth[:, None], rate, rho)
    p = np.where(near & (p >= CONSISTENCY_P), p, -1.0)
    best = np.argmax(p, axis=1)
    rows = np.flatnonzero(p.max(axis=1) >= 0)
    return {str(s.ids[i]): int(s.cands[i, best[i]]) for i in rows}


def _pooled_level(s: _Sites, group: dict[str, int]) -> float:
    """Maximum-likelihood TF of a group's pooled counts at their multiplicities."""
    idx = np.flatnonzero(np.isin(s.ids, list(group)))
    mult = np.array([group[str(i)] for i in s.ids[idx]], float)
    return fit_tf(s.alt[idx], s.depth[idx], s.bg[idx], s.total[idx], mult, s.ploidy)["t"]


def _explained_below(level: float, group: dict, groups: list) -> bool:
    """True when a larger group at a lower level holds at least half of ``group``'s SNVs at a
    higher multiplicity: they read this level only as single-copy mutations, where the lower
    level explains them on every copy of their haplotype (and more SNVs with them). SNVs at the
    same multiplicity in both never count, so a subclone just below the trunk does not take it
    over."""
    for lv, other in groups:
        if lv < level and len(other) > len(group):
            moved = sum(1 for s, m in group.items() if other.get(s, 0) > m)
            if 2 * moved >= len(group):
                return True
    return False


def clonal_set(pooled: pd.DataFrame, states: pd.DataFrame, cluster_ratio: float = 0.6,
               rho: float = 0.0, ploidy: float = 2.0) -> dict[str, int]:
    """The clonal SNVs (site -> multiplicity) of one patient: ``pooled`` (site_id index;
    alt_count, depth, bg_alt over the draws), ``states`` (site_id index; total_copy and
    ``cands``, the candidate multiplicities); ``rho``, the assay's allelic overdispersion
    (beta-binomial intra-class correlation; 0 = binomial); ``ploidy``, the tumour's mean copy
    number on the scale of ``total_copy``. See the module docstring."""
    sites = _Sites.of(pooled, states, ploidy)
    levels = sites.levels
    groups = []
    for level in sorted({round(float(t), 6) for t in levels[np.isfinite(levels) & (levels > 0)]},
                        reverse=True):
        group = _group(sites, level, cluster_ratio, rho)
        if not group:
            continue
        refined = _pooled_level(sites, group)
        if refined > 0:
            group = _group(sites, refined, cluster_ratio, rho) or group
        groups.append((refined, group))
    keep = [(lv, g) for lv, g in groups if not _explained_below(lv, g, groups)]
    keep.sort(key=lambda x: -x[0])
    for min_size in (2, 1):
        for _, group in keep:
            if len(group) >= min_size:
                return dict(sorted(group.items()))
    return {}


# ----------------------------------------------------------------------------------------------
# The fit per draw


def fit_tf(alt: np.ndarray, depth: np.ndarray, bg: np.ndarray, total: np.ndarray,
           mult: np.ndarray, ploidy: float = 2.0) -> dict:
    """Maximum-likelihood TF of one draw's SNV counts (``alt`` of ``depth`` fragments, background
    rate ``bg``, tumour copy number ``total``, mutant copies ``mult``, tumour ploidy ``ploidy``
    on the same scale), the profile interval with the Pearson overdispersion ``phi`` (keys t,
    lower, upper, phi, and ``curve``: the quasi-log-likelihood ``l(t) / phi`` on ``GRID``)."""
    p = np.clip(expected_vaf(GRID[:, None], total, mult, ploidy) + bg, 1e-9, 1 - 1e-9)
    ll = (alt * np.log(p) + (depth - alt) * np.log1p(-p)).sum(axis=1)
    i = int(np.argmax(ll))
    phi = 1.0
    if len(alt) >= 2:
        q = p[i]
        chi2 = float((((alt - depth * q) ** 2) / (depth * q * (1 - q))).sum())
        phi = max(1.0, chi2 / (len(alt) - 1))
    outside = 2.0 * (ll[i] - ll) / phi > CHI2_95
    # the connected run of grid points around the maximum
    below, above = np.flatnonzero(outside[:i]), np.flatnonzero(outside[i:])
    lo = int(below[-1]) + 1 if len(below) else 0
    hi = i + int(above[0]) - 1 if len(above) else len(GRID) - 1
    return {"t": float(GRID[i]), "lower": float(GRID[lo]), "upper": float(GRID[hi]),
            "phi": phi, "curve": ll / phi}


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
    pooled = _pooled(eligible[eligible["site_id"].isin(states.index)])
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
