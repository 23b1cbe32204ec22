"""Per-sample identity verdicts and contamination from the cohort's fingerprints.

A sample passes identity when it matches (relatedness >= ``min_relatedness``) more of its own
patient's other samples than it fails to match, and no sample of another patient matches it at
least as well as its best own match. A tie (e.g. one normal and one draw that disagree) fails both,
since the data cannot say which tube is wrong. A sample with nothing of its own patient to compare
with is ``undetermined`` and kept (``identity_ok`` true), with the reason written."""

from __future__ import annotations

from typing import Collection

import numpy as np
import pandas as pd

from ..io import as_bool
from . import identity_contamination as contamination
from .identity import (HET, HOM_ALT, HOM_REF, PAIR_COLUMNS, SAMPLE_COLUMNS, UNKNOWN,
                       Fingerprints, IdentitySettings, PairStatistics, genotypes, pair_statistics,
                       pair_table, reported_pairs)
from .identity_af import site_frequencies
from .identity_exclusion import CONTAMINATED, REFERENCE_LEFT_OUT, reference_left_out

PASS, FAIL, UNDETERMINED = "pass", "fail", "undetermined"
# Above this many samples identity.tsv keeps only the pairs that matter (see reported_pairs).
ALL_PAIRS_MAX_SAMPLES = 400
# Without a normal, a site counts as homozygous for contamination only if no other draw of the
# patient shows the minor allele in more than this share of fragments (3 %: a few error reads at
# panel depth; an imbalanced heterozygote shows far more, e.g. 8 % at TF 0.35 and 20 copies).
STRICT_HOM_FRACTION = 0.03


def _listing(ids, rel, idx) -> str:
    return ", ".join(f"{ids[j]} ({rel[j]:.2f})" for j in idx)


def _usable(i: int, stats: PairStatistics, settings: IdentitySettings) -> np.ndarray:
    """Samples compared with ``i`` at enough common informative sites (``i`` itself excluded)."""
    usable = (stats.informative[i] >= settings.min_informative_sites) & \
        np.isfinite(stats.relatedness[i])
    usable[i] = False
    return usable


def own_consistency(fp: Fingerprints, stats: PairStatistics, settings: IdentitySettings
                    ) -> np.ndarray:
    """Per sample: False when it fails to match more of its own patient's other samples than it
    matches (it is out of place). Only consistent samples accuse or vouch for others."""
    pats = fp.samples["patient_id"].to_numpy()
    out = np.ones(len(pats), dtype=bool)
    for i in range(len(pats)):
        own = np.flatnonzero(_usable(i, stats, settings) & (pats == pats[i]))
        matched = int((stats.relatedness[i, own] >= settings.min_relatedness).sum())
        out[i] = matched >= len(own) - matched
    return out


def sample_verdict(i: int, fp: Fingerprints, stats: PairStatistics, consistent: np.ndarray,
                   settings: IdentitySettings) -> dict:
    """Identity columns of sample row ``i`` (``SAMPLE_COLUMNS`` minus contamination);
    ``consistent``: ``own_consistency`` of every sample."""
    ids = fp.samples["sample_id"].to_numpy()
    pats = fp.samples["patient_id"].to_numpy()
    rel = stats.relatedness[i]
    usable = _usable(i, stats, settings)
    # a sample already out of place does not vote on its patient's others (a swapped draw
    # would otherwise turn two clean draws of three into a tie)
    own = np.flatnonzero(usable & (pats == pats[i]) & (consistent | ~consistent[i]))
    # another patient's sample that is itself out of place (the other half of a swap) accuses
    # no one: it matches its true individual's samples, which are innocent
    other = np.flatnonzero(usable & (pats != pats[i]) & consistent)
    matched = own[rel[own] >= settings.min_relatedness]
    unmatched = own[rel[own] < settings.min_relatedness]
    candidates = np.flatnonzero(usable)
    # ties (1.00 for every sample of one individual) go to the own patient's consistent samples
    order = np.lexsort((~consistent[candidates], pats[candidates] != pats[i],
                        -rel[candidates]))
    best = int(candidates[order[0]]) if len(candidates) else -1
    best_own = float(rel[own].max()) if len(own) else -np.inf
    best_other = int(other[np.argmax(rel[other])]) if len(other) else -1
    reasons = []
    if len(unmatched) > len(matched):
        reasons.append(f"does not match its patient's {_listing(ids, rel, unmatched)}")
    elif len(unmatched) and len(unmatched) == len(matched):
        reasons.append(f"ambiguous: matches {_listing(ids, rel, matched)} but not "
                       f"{_listing(ids, rel, unmatched)}")
    if best_other >= 0 and rel[best_other] >= settings.min_relatedness \
            and rel[best_other] >= best_own:
        reasons.append(f"matches {ids[best_other]} of patient {pats[best_other]} "
                       f"({rel[best_other]:.2f}) at least as well as its own patient's samples")
    status = FAIL if reasons else (PASS if len(own) else UNDETERMINED)
    if status == UNDETERMINED:
        reasons.append("no other sample of its patient with enough common informative sites "
                       f"(>= {settings.min_informative_sites}) to compare with")
    return dict(sample_id=ids[i], patient_id=pats[i],
                sample_type=fp.samples["sample_type"].iat[i], identity_ok=status != FAIL,
                identity_status=status, best_match=ids[best] if best >= 0 else "",
                best_match_patient=pats[best] if best >= 0 else "",
                best_match_relatedness=float(rel[best]) if best >= 0 else np.nan,
                own_relatedness=float(np.median(rel[own])) if len(own) else np.nan,
                own_pairs=int(len(own)), identity_reason="; ".join(reasons))


def patient_genotypes(fp: Fingerprints, keep: np.ndarray, settings: IdentitySettings
                      ) -> dict[str, np.ndarray]:
    """Per patient, from the samples in ``keep``: the normal's calls when there is one, else
    the calls of the pooled draws (the contaminant models of the other patients)."""
    calls = genotypes(fp.ref, fp.alt, settings.min_depth, settings.hom_max_fraction)
    consensus = {}
    for patient, rows in fp.samples[keep].groupby("patient_id", sort=True):
        normals = rows.index[rows["sample_type"] == "normal"].to_numpy()
        idx = rows.index.to_numpy()
        consensus[patient] = calls[int(normals[0])] if len(normals) else genotypes(
            fp.ref[idx].sum(0), fp.alt[idx].sum(0), settings.min_depth,
            settings.hom_max_fraction)
    return consensus


def host_calls(fp: Fingerprints, i: int, keep: np.ndarray, settings: IdentitySettings
               ) -> np.ndarray:
    """The homozygous sites of sample ``i``'s own individual, where contamination is measured:
    its patient's normal's calls; without a normal, the sites where every other kept draw of the
    patient (or, with none, the sample itself) shows the minor allele in at most
    ``STRICT_HOM_FRACTION`` of its fragments. Tumour imbalance at a heterozygous site (LOH, an
    amplified allele) leaves a share of the other allele in every draw, so it is not used."""
    pats = fp.samples["patient_id"].to_numpy()
    types = fp.samples["sample_type"].to_numpy()
    mine = keep & (pats == pats[i])
    normals = np.flatnonzero(mine & (types == "normal"))
    if len(normals):
        j = int(normals[0])
        return genotypes(fp.ref[j], fp.alt[j], settings.min_depth, settings.hom_max_fraction)
    others = np.flatnonzero(mine)
    others = others[others != i] if len(others) > 1 else np.array([i])
    ref, alt = fp.ref[others], fp.alt[others]
    n = ref + alt
    minor = np.divide(np.minimum(ref, alt), n, out=np.zeros(n.shape), where=n > 0)
    strict = ((minor <= STRICT_HOM_FRACTION) | (n < settings.min_depth)).all(0)
    pooled = genotypes(ref.sum(0), alt.sum(0), settings.min_depth, settings.hom_max_fraction)
    return np.where(strict | (pooled == HET), pooled, UNKNOWN).astype(np.int8)


def population_alt(consensus: dict[str, np.ndarray], without: str, n_sites: int) -> np.ndarray:
    """Alt allele frequency per site over the patients other than ``without`` (NaN if none)."""
    rows = [c for p, c in consensus.items() if p != without]
    if not rows:
        return np.full(n_sites, np.nan)
    g = np.stack(rows).astype(float)
    known = g != UNKNOWN
    total = np.where(known, g / 2.0, 0.0).sum(axis=0)
    count = known.sum(axis=0)
    return np.divide(total, count, out=np.full(n_sites, np.nan), where=count > 0)


def alt_fractions(fp: Fingerprints, min_depth: int) -> np.ndarray:
    """(N, S) alt share of ref + alt fragments; NaN below ``min_depth``."""
    n = fp.ref + fp.alt
    return np.where(n >= min_depth, fp.alt / np.maximum(n, 1), np.nan)


def contamination_columns(fp: Fingerprints, verdicts: pd.DataFrame,
                          settings: IdentitySettings) -> pd.DataFrame:
    """``contamination`` and ``contamination_source`` of each sample (NaN and "" for samples
    that fail identity: their own individual is unknown). The candidate contaminants are the
    other patients' samples as sequenced (their allele fractions carry their own tumour's
    imbalance, which a genotype would not) and the population: the sites' ``population_af``
    (the fingerprint_sites VCF's AF) where known, else the cohort's other patients."""
    keep = verdicts["identity_ok"].to_numpy(dtype=bool)
    consensus = patient_genotypes(fp, keep, settings)
    fractions = alt_fractions(fp, settings.min_depth)
    depth = fp.ref + fp.alt
    ids = fp.samples["sample_id"].to_numpy()
    pats = fp.samples["patient_id"].to_numpy()
    out, sources = [], []
    for i in range(len(verdicts)):
        if not keep[i]:
            out.append(np.nan)
            sources.append("")
            continue
        sites = contamination.host_sites(fp.ref[i], fp.alt[i], fp.other[i],
                                         host_calls(fp, i, keep, settings), settings.min_depth,
                                         settings.hom_max_fraction)
        donors = {ids[j]: contamination.Donor(fractions[j], depth[j])
                  for j in np.flatnonzero(keep & (pats != pats[i]))}
        population = site_frequencies(fp.sites, population_alt(consensus, pats[i],
                                                               len(fp.sites)))
        est = contamination.estimate(sites, donors, population)
        out.append(est.fraction)
        sources.append(est.source)
    return pd.DataFrame({"contamination": out, "contamination_source": sources})


def identity_tables(fp: Fingerprints, settings: IdentitySettings
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pairs: ``PAIR_COLUMNS``, samples: ``SAMPLE_COLUMNS``) of a cohort's fingerprints."""
    calls = genotypes(fp.ref, fp.alt, settings.min_depth, settings.hom_max_fraction)
    stats = pair_statistics(calls)
    pairs = pair_table(fp, stats, settings, reported_pairs(fp, stats, ALL_PAIRS_MAX_SAMPLES))
    consistent = own_consistency(fp, stats, settings)
    verdicts = pd.DataFrame([sample_verdict(i, fp, stats, consistent, settings)
                             for i in range(len(fp.samples))])
    if verdicts.empty:
        return pairs[PAIR_COLUMNS], pd.DataFrame(columns=SAMPLE_COLUMNS)
    verdicts = pd.concat([verdicts, contamination_columns(fp, verdicts, settings)], axis=1)
    flagged = verdicts["contamination"] > settings.max_contamination
    for i in np.flatnonzero(flagged.to_numpy()):
        note = (f"contamination {verdicts.at[i, 'contamination']:.3f} {CONTAMINATED} "
                f"{settings.max_contamination}")
        source = verdicts.at[i, "contamination_source"]
        note += f" (best fit: {source})" if source else ""
        old = verdicts.at[i, "identity_reason"]
        verdicts.at[i, "identity_reason"] = f"{old}; {note}" if old else note
    return pairs[PAIR_COLUMNS], verdicts[SAMPLE_COLUMNS]


# Columns the QC summary gains from identity (appended after the QC metrics' own columns).
SUMMARY_COLUMNS = ["identity_ok", "best_match", "contamination"]


def append_identity(summary: pd.DataFrame, samples: pd.DataFrame,
                    reference_pool: Collection[str] = ()) -> pd.DataFrame:
    """The QC summary with ``SUMMARY_COLUMNS`` appended from the identity verdicts (matched by
    sample_id); a sample failing identity or flagged for contamination also fails QC, its
    identity reason appended to ``qc_reason``, and, when it is one of ``reference_pool`` (the
    copy-number panel of normals), that it is left out of the copy-number reference."""
    verdicts = samples.set_index("sample_id")
    out = summary.copy()
    ids = out["sample_id"]
    out["identity_ok"] = as_bool(ids.map(verdicts["identity_ok"]))
    out["best_match"] = ids.map(verdicts["best_match"]).fillna("")
    out["contamination"] = pd.to_numeric(ids.map(verdicts["contamination"]))
    reason = ids.map(verdicts["identity_reason"]).fillna("").astype(str)
    status = ids.map(verdicts["identity_status"]).fillna("")
    flagged = (status == FAIL) | reason.str.contains(CONTAMINATED, regex=False)
    unfit = reference_left_out(samples)
    pooled = ids.isin([s for s in reference_pool if s in unfit])
    reason = reason.where(~pooled, reason + "; " + REFERENCE_LEFT_OUT)
    old = out["qc_reason"].fillna("").astype(str)
    joined = np.where(old != "", old + "; " + reason, reason)
    out["qc_reason"] = np.where(flagged, joined, old)
    out["qc_pass"] = as_bool(out["qc_pass"]).fillna(False).astype(bool) & ~flagged.to_numpy()
    return out
