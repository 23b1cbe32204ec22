"""Sample identity: genotype fingerprints, pairwise relatedness and per-sample verdicts.

Every sample (plasma draws and normals) is genotyped at the same fingerprint sites from its allele
counts; two samples are compared only at the sites where both are informative (enough fragments),
as somalier does. Relatedness is somalier's (KING-robust) estimate

    relatedness = (shared_hets - 2 * ibs0) / min(hets_a, hets_b)

over the jointly informative sites: about 1 for two samples of one individual, 0.5 for first-degree
relatives, at or below 0 for unrelated people. It is robust to tumour copy number and LOH in
plasma: LOH turns a heterozygous site into an apparent homozygote in one sample, which lowers that
sample's het count and so the denominator with it, but it never makes an opposite homozygote
(``ibs0``: hom-ref in one sample, hom-alt in the other), which only a different individual gives.

Contamination by another individual is estimated in ``identity_contamination``. Statistics,
thresholds and measured figures: docs/qc.md, "Sample identity and contamination".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import schema_default, settings_kwargs

UNKNOWN, HOM_REF, HET, HOM_ALT = -1, 0, 1, 2

# Published columns (registry: tables.FINGERPRINT, FINGERPRINT_SITES, IDENTITY, IDENTITY_SAMPLES).
FINGERPRINT_COLUMNS = ["chrom", "pos", "ref", "alt", "ref_count", "alt_count", "other_count",
                       "depth"]
SITE_COLUMNS = ["chrom", "pos", "ref", "alt", "source"]
PAIR_COLUMNS = ["sample_a", "sample_b", "relatedness", "informative_sites",
                "same_patient_expected", "verdict", "patient_a", "patient_b", "shared_hets",
                "ibs0", "ibs2"]
SAMPLE_COLUMNS = ["sample_id", "patient_id", "sample_type", "identity_ok", "identity_status",
                  "best_match", "best_match_patient", "best_match_relatedness",
                  "own_relatedness", "own_pairs", "contamination", "contamination_source",
                  "identity_reason"]

# Pair verdicts.
SAME = "same_individual"
DIFFERENT = "different_individuals"
MISMATCH = "mismatch"  # expected the same patient, genotypes differ
UNEXPECTED = "unexpected_match"  # expected different patients, genotypes match
UNDETERMINED = "undetermined"  # fewer jointly informative sites than min_informative_sites


@dataclass(frozen=True)
class IdentitySettings:
    """The ``qc.identity`` config section (docs/qc.md, "Sample identity and contamination").

    fingerprint_sites: VCF of SNP sites (or ``None``: discovered from the cohort's BAMs).
    min_depth: fragments a sample needs at a site for a genotype there.
    hom_max_fraction: a minor-allele fraction at or below it is homozygous, above it
        (up to 1 - it) heterozygous.
    discovery_min_fraction: a discovered site needs this alt fraction in at least one sample.
    min_informative_sites: pairs with fewer jointly genotyped sites are undetermined.
    min_relatedness: two samples at or above it are the same individual.
    max_contamination: a sample whose estimated contamination exceeds it is flagged.
    min_mapping_quality, min_base_quality: read and base filters of the fingerprint pileup.
    """

    fingerprint_sites: str | None = schema_default("qc.identity.fingerprint_sites")
    min_depth: int = schema_default("qc.identity.min_depth")
    hom_max_fraction: float = schema_default("qc.identity.hom_max_fraction")
    discovery_min_fraction: float = schema_default("qc.identity.discovery_min_fraction")
    min_informative_sites: int = schema_default("qc.identity.min_informative_sites")
    min_relatedness: float = schema_default("qc.identity.min_relatedness")
    max_contamination: float = schema_default("qc.identity.max_contamination")
    min_mapping_quality: int = schema_default("qc.identity.min_mapping_quality")
    min_base_quality: int = schema_default("qc.identity.min_base_quality")

    @classmethod
    def from_config(cls, section: dict) -> "IdentitySettings":
        return cls(**settings_kwargs(cls, section, "qc.identity"))


@dataclass
class Fingerprints:
    """Allele counts of N samples at S common sites (rows of ``samples`` = rows of the arrays)."""

    samples: pd.DataFrame  # sample_id, patient_id, sample_type
    sites: pd.DataFrame  # chrom, pos, ref, alt
    ref: np.ndarray  # (N, S) fragments with the ref allele
    alt: np.ndarray  # (N, S) fragments with the alt allele
    other: np.ndarray  # (N, S) fragments with neither

    @property
    def depth(self) -> np.ndarray:
        return self.ref + self.alt + self.other


def stack_fingerprints(samples: pd.DataFrame, tables: list[pd.DataFrame],
                       sites: pd.DataFrame) -> Fingerprints:
    """Line up per-sample fingerprint tables (``FINGERPRINT_COLUMNS``) on ``sites``; a site a
    table lacks counts as depth 0."""
    key = pd.MultiIndex.from_frame(sites[["chrom", "pos"]].astype({"pos": np.int64}))
    arrays = {name: np.zeros((len(tables), len(sites)), dtype=np.int64)
              for name in ("ref", "alt", "other")}
    for i, table in enumerate(tables):
        idx = pd.MultiIndex.from_frame(table[["chrom", "pos"]].astype({"pos": np.int64}))
        rows = idx.get_indexer(key)
        found = rows >= 0
        for name in arrays:
            arrays[name][i, found] = table[f"{name}_count"].to_numpy(dtype=np.int64)[rows[found]]
    return Fingerprints(samples.reset_index(drop=True), sites.reset_index(drop=True),
                        arrays["ref"], arrays["alt"], arrays["other"])


def genotypes(ref: np.ndarray, alt: np.ndarray, min_depth: int,
              hom_max_fraction: float) -> np.ndarray:
    """Genotype calls (``HOM_REF``, ``HET``, ``HOM_ALT`` or ``UNKNOWN`` below ``min_depth``
    ref + alt fragments) from the alt fraction; same shape as the inputs."""
    n = ref + alt
    frac = np.divide(alt, n, out=np.zeros(np.shape(n), dtype=float), where=n > 0)
    calls = np.full(np.shape(n), HET, dtype=np.int8)
    calls[frac <= hom_max_fraction] = HOM_REF
    calls[frac >= 1 - hom_max_fraction] = HOM_ALT
    calls[n < min_depth] = UNKNOWN
    return calls


@dataclass
class PairStatistics:
    """(N, N) matrices over the sites both samples of a pair have a genotype at."""

    informative: np.ndarray
    shared_hets: np.ndarray
    ibs0: np.ndarray
    ibs2: np.ndarray
    hets: np.ndarray  # hets[i, j]: hets of sample i at the sites shared with j

    @property
    def relatedness(self) -> np.ndarray:
        """somalier's relatedness; NaN where neither sample has a het at the shared sites."""
        low = np.minimum(self.hets, self.hets.T).astype(float)
        score = (self.shared_hets - 2.0 * self.ibs0).astype(float)
        return np.divide(score, low, out=np.full(low.shape, np.nan), where=low > 0)


def pair_statistics(calls: np.ndarray) -> PairStatistics:
    """Count, for every pair of rows of ``calls`` (N, S), the sites both are informative at and
    the identity-by-state classes there, as matrix products (fast for thousands of samples)."""
    known = (calls != UNKNOWN).astype(np.float64)
    het = (calls == HET).astype(np.float64)
    hom_ref = (calls == HOM_REF).astype(np.float64)
    hom_alt = (calls == HOM_ALT).astype(np.float64)
    ibs0 = hom_ref @ hom_alt.T
    same = het @ het.T + hom_ref @ hom_ref.T + hom_alt @ hom_alt.T
    return PairStatistics(informative=_counts(known @ known.T), shared_hets=_counts(het @ het.T),
                          ibs0=_counts(ibs0 + ibs0.T), ibs2=_counts(same),
                          hets=_counts(het @ known.T))


def _counts(product: np.ndarray) -> np.ndarray:
    """Integer counts from a float matrix product (exact: sums of 0/1 products)."""
    return np.rint(product).astype(np.int64)


def pair_verdict(related: float, informative: int, same_patient: bool,
                 settings: IdentitySettings) -> str:
    """One pair's verdict (module constants) from its relatedness and the sheet's expectation."""
    if informative < settings.min_informative_sites or not np.isfinite(related):
        return UNDETERMINED
    match = related >= settings.min_relatedness
    if same_patient:
        return SAME if match else MISMATCH
    return UNEXPECTED if match else DIFFERENT


def pair_table(fp: Fingerprints, stats: PairStatistics, settings: IdentitySettings,
               pairs: list[tuple[int, int]] | None = None) -> pd.DataFrame:
    """``PAIR_COLUMNS`` rows for ``pairs`` of sample rows (default: every pair, i < j)."""
    n = len(fp.samples)
    if pairs is None:
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    ids = fp.samples["sample_id"].to_numpy()
    pats = fp.samples["patient_id"].to_numpy()
    rel = stats.relatedness
    rows = []
    for i, j in pairs:
        same = bool(pats[i] == pats[j])
        rows.append((ids[i], ids[j], rel[i, j], int(stats.informative[i, j]), same,
                     pair_verdict(rel[i, j], int(stats.informative[i, j]), same, settings),
                     pats[i], pats[j], int(stats.shared_hets[i, j]), int(stats.ibs0[i, j]),
                     int(stats.ibs2[i, j])))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def reported_pairs(fp: Fingerprints, stats: PairStatistics, all_pairs_max_samples: int
                   ) -> list[tuple[int, int]] | None:
    """Every pair for a cohort of up to ``all_pairs_max_samples`` samples (``None``); above it,
    the pairs within each patient and each sample's most related sample of another patient,
    so that the table grows with the cohort, not with its square."""
    n = len(fp.samples)
    if n <= all_pairs_max_samples:
        return None
    pats = fp.samples["patient_id"].to_numpy()
    rel = np.nan_to_num(stats.relatedness, nan=-np.inf)
    keep = set()
    for i in range(n):
        keep.update((min(i, j), max(i, j)) for j in np.flatnonzero(pats == pats[i]) if j != i)
        other = np.where(pats != pats[i], rel[i], -np.inf)
        if np.isfinite(other.max()):
            j = int(other.argmax())
            keep.add((min(i, j), max(i, j)))
    return sorted(keep)
