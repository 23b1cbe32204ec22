"""Which copy-number scale the allele fractions support (issue 18; rule ``cnv_combine``).

Depth ratios fix a tumour's copy numbers only up to an affine relabelling: states ``C`` at TF
``c`` and states ``a C + b`` at another TF give the same ratio profile, so the HMM's path (whose
prior prefers states near 2) can be the tumour's copy numbers, half of them (a genome-doubled
tumour: capturesim seed 3 CS04, true 4 / 2 / 1 labelled 2 / 1 / 1) or shifted (seed 2 CS04,
true 4 / 3 / 2 labelled 3 / 2 / 1). Halving keeps every genome-copy TF; a shift does not, and it
put that tumour's SNV TF at 0.14-0.38 for truth 0.21-0.53. Allele fractions are not invariant:
a segment the path calls copy number 1 must be LOH in the hets, one it calls 3 must be
imbalanced, and the clonal SNVs of segments of different copy number must read one TF.

Candidates are the relabellings ``C -> a C + b`` of ``CANDIDATES`` (amplification-state bins
kept; every other state must stay >= 1). Each is scored by the patient's heterozygous SNPs
(``baf.fit_baf`` on the relabelled path: the minor copy numbers refitted, the same hets under
every candidate), relative to TF 0 (where every het is balanced whatever the copy numbers).
The joint score adds the SNVs: per draw ``max_t [l_baf(t) + l_snv(t) - max l_snv]``, where
``l_snv`` is the
quasi-log-likelihood of the candidate's clonal SNVs (``snv_copy_number.fit_tf``, read with the
candidate's ploidy) and the BAF curve, fitted on the share of cells, is read on the share of
genome copies through the candidate's ploidy. The path's own labelling is kept unless another
candidate's hets score higher by a likelihood-ratio test at ``alpha`` (``chi2_1(1 - alpha) /
2`` on the hets' log-likelihood alone, each draw at its own BAF maximum): a relabelling must be
demanded by the data, not merely allowed by them. Among the relabellings the hets cannot tell
apart (within the same margin of the best), the one where hets and SNVs agree best wins: a
shifted and a doubled path can explain the hets almost equally (seed 2 CS04), but only one puts
the SNVs of different copy numbers at one TF. The SNVs do not decide alone, because a poor BAF
fit (a path that merges segments) would then pull the labelling towards whatever makes the SNVs
agree with it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .baf import NoiseModel, fit_baf, segments_from_states
from .snv_copy_number import GRID, PatientCopyNumber, clonal_fit

# (factor a, shift b) of the relabellings C -> a C + b tried; (1, 0) is the path itself.
CANDIDATES = ((1, 0), (1, 1), (1, 2), (2, -1), (2, 0), (2, 1))


@dataclass(frozen=True)
class ScaleChoice:
    """The chosen relabelling of one patient's path, its score and the identity's, and the
    copy number (segments with refitted minor copy numbers) the SNVs are read on."""

    factor: int
    shift: int
    score: float
    identity_score: float
    copy_number: PatientCopyNumber

    @property
    def label(self) -> str:
        return f"{self.factor}C{self.shift:+d}"

    @property
    def keeps_depth_tf(self) -> bool:
        """True when the depth TF carries over (no shift: halving keeps genome-copy shares)."""
        return self.shift == 0


def relabel(states: pd.DataFrame, factor: int, shift: int) -> pd.DataFrame | None:
    """``states`` (an hmm_states table) with every non-amplification state ``C`` replaced by
    ``factor C + shift``; None when a state would fall below 1."""
    amp = states["amp"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    state = pd.to_numeric(states["state"], errors="coerce").to_numpy(float)
    new = np.where(amp, state, factor * state + shift)
    if (~amp).any() and np.nanmin(new[~amp]) < 1:
        return None
    return states.assign(state=new.astype(int))


def dna_share(cells: np.ndarray, ploidy: float) -> np.ndarray:
    """The tumour's share of genome copies at a share ``cells`` of cells of mean copy number
    ``ploidy``."""
    cells = np.asarray(cells, float)
    return cells * ploidy / (cells * ploidy + 2.0 * (1.0 - cells))


def _scores(baf_profile: pd.DataFrame, snv_curves: dict[str, np.ndarray], ploidy: float
            ) -> tuple[float, float]:
    """The hets' log-likelihood relative to TF 0 summed over the draws, at each draw's own BAF
    maximum and at the TF the hets and the clonal SNVs agree on (the SNV curve relative to its
    own maximum). At TF 0 every het is balanced whatever the copy numbers, so the scores of
    different relabellings share their origin; a draw without an imbalanced segment (no BAF
    profile) adds 0."""
    alone = joint = 0.0
    for sample, prof in baf_profile.groupby("sample_id", sort=False):
        prof = prof.sort_values("tf")
        l_baf = prof["loglik"].to_numpy(float)
        l_baf = l_baf - l_baf[0]
        alone += float(l_baf.max())
        curve = snv_curves.get(str(sample))
        if curve is None:
            joint += float(l_baf.max())
            continue
        t = dna_share(prof["tf"].to_numpy(float), ploidy)
        joint += float((l_baf + np.interp(t, GRID, curve - curve.max())).max())
    return alone, joint


def _candidate(tracked: pd.DataFrame, states: pd.DataFrame, reference: str, factor: int,
               shift: int, cluster_ratio: float, min_depth: int, noise: NoiseModel | None = None
               ) -> tuple[float, float, PatientCopyNumber, NoiseModel | None] | None:
    """BAF score, joint score, copy number and the normal's noise model of one relabelling
    (None when it is not a valid path); ``noise``: the noise model of an earlier candidate
    (the same hets)."""
    relabelled = relabel(states, factor, shift)
    if relabelled is None:
        return None
    fit = fit_baf(tracked, {reference: relabelled}, reference, noise=noise)
    runs = segments_from_states(relabelled)
    segs = (fit.segments.assign(amp=runs["amp"].to_numpy()) if len(fit.segments) == len(runs)
            else runs.assign(minor_copy=float("nan")))
    copy_number = PatientCopyNumber(segs, fit.noise.overdispersion if fit.noise else 0.0)
    cf = clonal_fit(tracked, copy_number, cluster_ratio, min_depth)
    curves = {}
    if cf is not None and cf.model == "copy_number":
        for sample, obs in cf.usable.groupby("sample_id", sort=False):
            if (obs["sample_type"] != "normal").all():
                curves[str(sample)] = cf.fit(obs)["curve"]
    return (*_scores(fit.profile, curves, copy_number.ploidy), copy_number, fit.noise)


def choose_scale(tracked: pd.DataFrame, states: pd.DataFrame, reference: str,
                 identity: PatientCopyNumber, alpha: float = 0.01, cluster_ratio: float = 0.6,
                 min_depth: int = 50) -> ScaleChoice:
    """The relabelling of ``reference``'s path (its hmm_states ``states``) that one patient's
    allele fractions support (module docstring); ``tracked``: the patient's rows of
    tracked_variants with ``site_id`` (``snv_copy_number.with_site_ids``); ``identity``: the
    copy number of the path as it is."""
    scored, noise = {}, None
    for factor, shift in CANDIDATES:
        result = _candidate(tracked, states, reference, factor, shift, cluster_ratio, min_depth,
                            noise)
        if result is not None:
            scored[(factor, shift)] = result
            noise = result[3]
    needed = 0.5 * float(stats.chi2.ppf(1.0 - alpha, 1))
    base = scored.get((1, 0), (0.0, 0.0, identity))
    top = max((v[0] for v in scored.values()), default=base[0])
    if top - base[0] < needed:
        return ScaleChoice(1, 0, base[0], base[0], identity)
    plausible = [k for k, v in scored.items() if top - v[0] < needed]
    best = max(plausible, key=lambda k: scored[k][1])
    return ScaleChoice(best[0], best[1], scored[best][0], base[0], scored[best][2])
