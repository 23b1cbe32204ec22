"""Cross-individual contamination of one sample, VerifyBamID-style.

At the sites where the sample's own individual is homozygous, every fragment with the other
allele is a sequencing error or comes from someone else. With a fraction ``c`` of fragments from a
contaminant whose dose of that allele is ``q`` (0, 1/2 or 1; or the population allele frequency
when the contaminant is unknown), the other allele's expected fraction at a site is ``e + c * q``
(``e``: the error rate into one specific base). The sample's own homozygous sites come from its
matched normal when there is one, else from the sites homozygous in every draw of the patient, so
tumour imbalance at heterozygous sites (LOH, gains) never enters: those sites are not used.

``e`` is measured at the same sites and in the same sample, as half the fraction of fragments
showing neither allele (there are two such bases), so the estimate needs no external error model.
``c`` is the least-squares (moment) estimate over the sites; each candidate contaminant (each
other patient's sample in the cohort, and the population) is scored by the binomial
log-likelihood at its estimate, and the best is reported with its estimate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .identity import HOM_ALT, HOM_REF

POPULATION = "population"
# Below this estimate no source is named: at it, a donor's alleles are a handful of fragments.
SOURCE_MIN = 0.005


@dataclass(frozen=True)
class ContaminationEstimate:
    """fraction: estimated share of fragments from another individual (0-1); source: the
    sample ID of the best-fitting contaminant, ``POPULATION``, or "" below ``SOURCE_MIN``;
    sites: homozygous sites used."""

    fraction: float
    source: str
    sites: int


@dataclass
class HostSites:
    """The other allele's fragments at a sample's usable homozygous sites."""

    minor: np.ndarray  # fragments with the allele the host lacks
    depth: np.ndarray  # ref + alt fragments
    error: np.ndarray  # expected error fragments into that allele
    index: np.ndarray  # site columns used
    host_alt: np.ndarray  # host genotype there (HOM_REF or HOM_ALT)


def host_sites(ref: np.ndarray, alt: np.ndarray, other: np.ndarray, host: np.ndarray,
               min_depth: int) -> HostSites:
    """The sample's counts (1-D over sites) at the sites its individual's genotype ``host``
    calls homozygous, with ``min_depth`` ref + alt fragments."""
    depth = ref + alt
    use = ((host == HOM_REF) | (host == HOM_ALT)) & (depth >= min_depth)
    index = np.flatnonzero(use)
    minor = np.where(host[index] == HOM_REF, alt[index], ref[index]).astype(float)
    error = other[index] / 2.0
    return HostSites(minor, depth[index].astype(float), error, index, host[index])


def _fit(sites: HostSites, dose: np.ndarray) -> tuple[float, float]:
    """Estimate of ``c`` for contaminant allele doses ``dose`` (at ``sites``) and its binomial
    log-likelihood. Sites where the dose is unknown (NaN) are left out."""
    ok = np.isfinite(dose)
    if not ok.any():
        return float("nan"), -np.inf
    n, k, e, q = sites.depth[ok], sites.minor[ok], sites.error[ok], dose[ok]
    weight = float((n * q).sum())
    c = float(np.clip((k - e).sum() / weight, 0.0, 1.0)) if weight > 0 else 0.0
    rate = np.clip(e / n + c * q, 1e-6, 1 - 1e-6)
    return c, float((k * np.log(rate) + (n - k) * np.log1p(-rate)).sum())


def donor_dose(sites: HostSites, donor_alt: np.ndarray) -> np.ndarray:
    """A donor's share (0-1; NaN where unknown) of the allele the host lacks, from its alt
    share per site (a sample's observed allele fraction, or a population frequency)."""
    alt = donor_alt[sites.index]
    return np.where(sites.host_alt == HOM_REF, alt, 1.0 - alt)


def estimate(sites: HostSites, donors: dict[str, np.ndarray],
             population_alt: np.ndarray) -> ContaminationEstimate:
    """The best-fitting contaminant among ``donors`` (sample -> alt share per site, NaN where
    unknown) and the population (alt allele frequency per site; NaN where unknown).

    A donor model is compared with the population model at the same sites; a donor replaces the
    population only when it fits at least as well where both are defined."""
    if not len(sites.index):
        return ContaminationEstimate(float("nan"), "", 0)
    pop_dose = donor_dose(sites, population_alt)
    best_c, best_ll = _fit(sites, pop_dose)
    best_source = POPULATION
    best_gain = 0.0
    for name, alt in sorted(donors.items()):
        dose = donor_dose(sites, alt)
        c, ll = _fit(sites, dose)
        both = np.isfinite(dose) & np.isfinite(pop_dose)
        _, ll_pop = _fit(HostSites(sites.minor[both], sites.depth[both], sites.error[both],
                                   sites.index[both], sites.host_alt[both]), pop_dose[both])
        if ll - ll_pop > best_gain:
            best_c, best_source, best_gain = c, name, ll - ll_pop
    if not np.isfinite(best_c):
        best_c = 0.0
    return ContaminationEstimate(best_c, best_source if best_c >= SOURCE_MIN else "",
                                 int(len(sites.index)))
