"""The clonal SNVs of a patient read through each SNV's tumour copy number, and their likelihood
(issue 18): the model half of the SNV tumour fraction with copy number in ``cnv_combine``
(``cnv/snv_copy_number.py`` gives each SNV its segment copy number, candidate multiplicities and
the path's ploidy, and writes the table). The variants
stage's 2 x VAF (``variants/snv_tf.py``) keeps its own VAF-only set: read at copy number 2 and one
mutant copy, this function's "highest group of two" rule let a pair of SNVs on a gained allele
take the set (capturesim seed 2 CS03: 4 SNVs for 11) and 2 x VAF's MAE rose 0.0216 -> 0.0248
and 0.0377 -> 0.0420 on capturesim seeds 2 and 3 (dilution seed 5 unchanged); with
multiplicities {1, 2} allowed instead, 0.073 / 0.053 / 0.097 (docs/cnv.md, session 12).

Model. A clonal SNV on ``m`` of the tumour's ``C`` copies shows, in a draw where the tumour (mean
copy number ``P`` on the scale of ``C``) holds a share ``t`` of the plasma's genome copies,
``VAF(t) = t m / (t C + P (1 - t))`` plus its site's background rate (``expected_vaf``).

Clonal set (per patient, every draw pooled): each (SNV, m) gives a level (the TF at which its
pooled VAF is expected); the group of a level is every SNV with a multiplicity whose pooled counts
are consistent with it (two-sided test p >= ``CONSISTENCY_P``, the counts divided by the
beta-binomial inflation ``1 + (n - 1) rho``; within ``cluster_ratio`` of it), the level refined
to the group's pooled fit and the group taken again. A group is dropped when a larger group at a
lower level holds at least half of its SNVs at a higher multiplicity (truncal SNVs duplicated by
an LOH or a gain read the higher level only as single-copy mutations); SNVs at the same
multiplicity in both never count, so a subclone just below the trunk does not take it over. Of
the groups left, the one at the highest level with at least two SNVs is the clonal set
(subclones sit below it; a lone SNV on an amplified allele above it); with none, the highest
single SNV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ..variants.snv_tf import CONSISTENCY_P

GRID = np.linspace(0.0, 1.0, 2001)
CHI2_95 = 3.841458820694124


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


def pooled_counts(obs: pd.DataFrame) -> pd.DataFrame:
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
