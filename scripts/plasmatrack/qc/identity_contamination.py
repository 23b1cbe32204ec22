"""Cross-individual contamination of one sample, VerifyBamID-style.

At the sites where the sample's own individual is homozygous, every fragment with the other
allele is a sequencing error or comes from someone else. A contaminant with a share ``q`` of that
allele (0, 1/2 or 1; its observed allele fraction; or the population allele frequency when the
contaminant is unknown) that put ``D * r`` fragments at a site (``D`` in all, spread over the sites
by its coverage profile ``r``) adds ``D * r * q`` fragments of the other allele there. The
contamination reported is ``c = D / N``, the contaminant's share of the sample's ``N`` fragments at
all fingerprint sites. So the expected other-allele fragments at a site are ``e + c * N * r * q``
(``e``: sequencing errors into that base).

The profile ``r`` is the candidate contaminant's own depth at each site over its total. Two
libraries' profiles differ site by site (the donor's tumour copy number, capture and GC
efficiency), so assuming the contaminant follows the sample's own profile (``r = n / N``, the
simpler model) weighs the few sites where the donor carries the other allele by the wrong depth:
on mixtures of aligned cohorts it erred by 10 % of the level (up to 1.1 % absolute at 10 %)
in either direction, as the share at those sites differed from the share overall (docs/qc.md).
The population has no profile, so for it ``r = n / N`` (a contaminant captured with the sample).

The sample's own homozygous sites come from its matched normal when there is one, else from the
sites homozygous in every draw of the patient, so tumour imbalance at heterozygous sites (LOH,
gains) never enters: those sites are not used. A site where the sample shows a third allele in
more than ``hom_max_fraction`` of its fragments is not a homozygote of the two alleles listed (a
multi-allelic SNP) and is left out too. ``e`` is measured in the same sample and sites: half the
pooled fraction of fragments showing neither allele (there are two such bases), so the estimate
needs no external error model. ``c`` is the moment estimate over the sites; each candidate
contaminant (each other patient's sample in the cohort, and the population) is scored by the
binomial log-likelihood at its estimate, and the best is reported with its estimate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .identity import HOM_ALT, HOM_REF

POPULATION = "population"
# Below this estimate no source is named: at it, a donor's alleles are a handful of fragments.
SOURCE_MIN = 0.005


@dataclass(frozen=True)
class ContaminationEstimate:
    """fraction: estimated share of the sample's fragments at the fingerprint sites that come
    from another individual (0-1); source: the sample ID of the best-fitting contaminant,
    ``POPULATION``, or "" below ``SOURCE_MIN``; sites: homozygous sites used."""

    fraction: float
    source: str
    sites: int


@dataclass(frozen=True)
class Donor:
    """A candidate contaminant over all fingerprint sites: ``alt``, its alt share per site (NaN
    where unknown); ``depth``, its ref + alt fragments per site (its coverage profile)."""

    alt: np.ndarray
    depth: np.ndarray


@dataclass
class HostSites:
    """The other allele's fragments at a sample's usable homozygous sites."""

    minor: np.ndarray  # fragments with the allele the host lacks
    depth: np.ndarray  # ref + alt fragments
    error: np.ndarray  # expected error fragments into that allele
    index: np.ndarray  # site columns used
    host_alt: np.ndarray  # host genotype there (HOM_REF or HOM_ALT)
    total: float  # N: the sample's ref + alt fragments at all fingerprint sites

    def subset(self, keep: np.ndarray) -> "HostSites":
        return HostSites(self.minor[keep], self.depth[keep], self.error[keep], self.index[keep],
                         self.host_alt[keep], self.total)


def host_sites(ref: np.ndarray, alt: np.ndarray, other: np.ndarray, host: np.ndarray,
               min_depth: int, hom_max_fraction: float) -> HostSites:
    """The sample's counts (1-D over sites) at the sites its individual's genotype ``host``
    calls homozygous, with ``min_depth`` ref + alt fragments and no third allele above
    ``hom_max_fraction`` of its fragments."""
    depth = ref + alt
    third = other > hom_max_fraction * (depth + other)
    use = ((host == HOM_REF) | (host == HOM_ALT)) & (depth >= min_depth) & ~third
    index = np.flatnonzero(use)
    minor = np.where(host[index] == HOM_REF, alt[index], ref[index]).astype(float)
    seen = float((depth[index] + other[index]).sum())
    # errors into one given base: half of those into either of the two unlisted bases, pooled
    # over the sites so that no single site's count sets it
    rate = float(other[index].sum()) / (2.0 * seen) if seen > 0 else 0.0
    return HostSites(minor, depth[index].astype(float), depth[index] * rate, index,
                     host[index], float(depth.sum()))


def _fit(sites: HostSites, dose: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """Estimate of ``c`` for contaminant allele doses ``dose`` and contaminant fragments per
    unit of ``c`` ``spread`` (both at ``sites``), and its binomial log-likelihood. Sites where
    the dose is unknown (NaN) are left out."""
    ok = np.isfinite(dose) & np.isfinite(spread)
    if not ok.any():
        return float("nan"), -np.inf
    n, k, e, q = sites.depth[ok], sites.minor[ok], sites.error[ok], dose[ok] * spread[ok]
    weight = float(q.sum())
    c = float(np.clip((k - e).sum() / weight, 0.0, 1.0)) if weight > 0 else 0.0
    rate = np.clip((e + c * q) / n, 1e-6, 1 - 1e-6)
    return c, float((k * np.log(rate) + (n - k) * np.log1p(-rate)).sum())


def donor_dose(sites: HostSites, donor_alt: np.ndarray) -> np.ndarray:
    """A donor's share (0-1; NaN where unknown) of the allele the host lacks, from its alt
    share per site (a sample's observed allele fraction, or a population frequency)."""
    alt = donor_alt[sites.index]
    return np.where(sites.host_alt == HOM_REF, alt, 1.0 - alt)


def donor_spread(sites: HostSites, donor: Donor) -> np.ndarray:
    """Fragments the donor puts at each of ``sites`` per unit of contamination: the sample's
    total ``N`` spread by the donor's own coverage profile (NaN for a donor without depth)."""
    total = float(donor.depth.sum())
    if total <= 0:
        return np.full(len(sites.index), np.nan)
    return sites.total * donor.depth[sites.index] / total


def estimate(sites: HostSites, donors: dict[str, Donor],
             population_alt: np.ndarray) -> ContaminationEstimate:
    """The best-fitting contaminant among ``donors`` (sample -> ``Donor``) and the population
    (alt allele frequency per site; NaN where unknown; spread like the sample itself).

    A donor model is compared with the population model at the same sites; a donor replaces the
    population only when it fits better there."""
    if not len(sites.index):
        return ContaminationEstimate(float("nan"), "", 0)
    pop_dose = donor_dose(sites, population_alt)
    best_c, _ = _fit(sites, pop_dose, sites.depth)
    best_source = POPULATION
    best_gain = 0.0
    for name, donor in sorted(donors.items()):
        dose = donor_dose(sites, donor.alt)
        c, ll = _fit(sites, dose, donor_spread(sites, donor))
        both = np.isfinite(dose) & np.isfinite(pop_dose)
        sub = sites.subset(both)
        _, ll_pop = _fit(sub, pop_dose[both], sub.depth)
        if ll - ll_pop > best_gain:
            best_c, best_source, best_gain = c, name, ll - ll_pop
    if not np.isfinite(best_c):
        best_c = 0.0
    return ContaminationEstimate(best_c, best_source if best_c >= SOURCE_MIN else "",
                                 int(len(sites.index)))
