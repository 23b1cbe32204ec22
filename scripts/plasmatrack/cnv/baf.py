"""Tumour fraction from allelic imbalance at heterozygous germline SNPs (B-allele fraction, BAF).

Model (one patient; see docs/baf.md)
------------------------------------
The plasma tumour fraction ``t`` is the fraction of cfDNA genome equivalents from the tumour. A
germline heterozygous SNP inside a tumour segment with allele-specific copy numbers ``M`` (major)
and ``m`` (minor), total ``c = M + m``, shows the allele of the major haplotype in a fraction::

    b(t) = (t M + (1 - t)) / (t c + 2 (1 - t))

of the plasma fragments. The phase is unknown: the alt allele sits on the major haplotype
(true alt fraction ``b``) or on the minor one (``1 - b``) with probability 1/2 each.

Noise, learnt from the matched normal (no tuned constants): capture and alignment favour the
reference allele, so a balanced SNP reads ``r`` (e.g. 0.49) rather than 0.5. A true alt fraction
``x`` is read as ``x' = x k / (x k + 1 - x)`` with ``k = r / (1 - r)`` (odds scaling: ``x = 0.5``
maps to ``r``; 0 and 1 stay put). The bias is applied after choosing the phase, so the two
components are ``b'`` and ``(1 - b)'`` (not ``1 - b'``, which would move a balanced SNP to
``1 - r``). The counts are beta-binomial with intra-class correlation ``rho``. ``r`` and ``rho``
are the maximum-likelihood estimates from the normal's hets, with the likelihood conditioned on
the selection window (a het is only selected when its normal alt fraction is in ``vaf_range``, so
a plain fit would see too little spread); ``rho`` is floored at ``RHO_FLOOR``.

Segments: the allelic state is a property of the tumour, shared by all its draws. Segments are
the runs of equal HMM copy-number state along a chromosome in the ``hmm_states`` table of one
draw (``reference_sample``, the caller's choice: the draw whose copy-number fit is most
informative). A segment of total ``c`` has ``m in 0..floor(c / 2)`` (``c = 2, m = 0`` is
copy-neutral LOH; ``c = 1`` forces ``m = 0``). SNPs in amplification-state bins are dropped (their
copy number is only known to exceed ``max_copy``).

Fit: per-draw ``t_s`` and per-segment ``m_k`` maximise
``sum_s sum_i log(0.5 BB(alt | n, b'(t_s), rho) + 0.5 BB(alt | n, (1 - b(t_s))', rho))`` by
alternating maximisation on the fixed grid ``TF_GRID`` from several starts (deterministic), then
``t_s`` is refined between grid points. Ties in ``m`` go to the balanced state, so a segment is
only called imbalanced when the data say so. The 95% interval is the profile-likelihood interval
``{t: 2 (l_max - l(t)) <= 3.84}`` (its connected part around the estimate, end points solved
between grid points) with the ``m_k`` held at their fitted values; ``llr_baf`` is
``l_max - l(0)`` (at ``t = 0`` every SNP is balanced whatever ``m``).

Counts are fragments; ``n = ref_count + alt_count`` (fragments showing a third allele are errors
and left out). Positions are 1-based in the tracked table and 0-based half-open in the states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..errors import InputError

# The TF grid of the profile (step 0.0025; contains the copy-number HMM's 0.005 grid).
TF_GRID = np.linspace(0.0, 0.95, 381)
# Overdispersion floor: a normal with few or shallow hets can make rho look ~0, which would claim
# exactly binomial counts and make every plasma interval too narrow.
RHO_FLOOR = 1e-4
RHO_MAX = 0.2
# chi-square(1) 95% quantile: the profile-likelihood interval's cut-off on 2 x log-likelihood.
CHI2_95 = float(special.chdtri(1, 0.05))
# Starting TFs of the alternating maximisation (every draw starts at the same value).
TF_STARTS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)
MAX_ITER = 50
# A gain in log-likelihood below this does not move a segment out of the balanced state.
M_TIE = 1e-9
# Filter tokens of tracked_variants.tsv that do not disqualify a germline SNP: the category's own
# reason, and zero_depth (per observation; such rows carry no counts anyway). Any other token
# (blacklisted, strand_bias, ...) excludes the site in every sample.
BENIGN_FILTERS = frozenset({"", "PASS", "germline_vaf_in_normal", "zero_depth"})

HET_COLUMNS = ["sample_id", "sample_type", "chrom", "pos", "ref_count", "alt_count", "depth"]
DRAW_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "tumour_fraction_baf",
                "tf_baf_lower", "tf_baf_upper", "llr_baf", "n_het", "n_imbalanced",
                "reference_bias", "overdispersion", "note"]
PROFILE_COLUMNS = ["sample_id", "tf", "loglik"]
SEGMENT_COLUMNS = ["chromosome", "start", "end", "total_copy", "minor_copy", "n_het"]
TRACKED_REQUIRED = ("patient_id", "sample_id", "sample_type", "chrom", "pos", "ref_count",
                    "alt_count", "depth", "category", "filters", "variant_type")
STATES_REQUIRED = ("chromosome", "start", "end", "state", "amp")


@dataclass
class NoiseModel:
    """Reference bias ``r`` (alt fraction of a balanced het) and beta-binomial ``rho``."""

    reference_bias: float
    overdispersion: float
    n_sites: int


@dataclass
class BafFit:
    """Everything :func:`fit_baf` found for one patient: ``draws`` (DRAW_COLUMNS), ``profile``
    (PROFILE_COLUMNS), ``segments`` (SEGMENT_COLUMNS, 0-based half-open; ``minor_copy`` NaN
    where not fitted), the hets used (HET_COLUMNS + ``segment``) and the noise model."""

    draws: pd.DataFrame
    profile: pd.DataFrame
    segments: pd.DataFrame
    hets: pd.DataFrame
    noise: NoiseModel | None


# ----------------------------------------------------------------------------------------------
# Heterozygous germline SNPs


def _check_columns(table: pd.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(f"{source}: missing columns {missing}")


def _numeric(table: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """Columns as numbers; an InputError names every row (file line, header = 1) that is not."""
    out = table.copy()
    problems = []
    for col in columns:
        values = pd.to_numeric(out[col], errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy()):
            problems.append(f"{source}, row {i + 2}, column '{col}': {out[col].iloc[i]!r} is not "
                            "a number")
        out[col] = values
    if problems:
        raise InputError(problems)
    return out


def _failing(filters: pd.Series) -> np.ndarray:
    """True where a row's ';'-joined filters hold a token outside BENIGN_FILTERS."""
    text = filters.fillna("").astype(str)
    return np.array([not set(f.split(";")) <= BENIGN_FILTERS for f in text], dtype=bool)


def germline_hets(tracked: pd.DataFrame, min_normal_depth: int = 20,
                  vaf_range: tuple[float, float] = (0.3, 0.7),
                  source: str = "tracked_variants.tsv") -> pd.DataFrame:
    """The patient's heterozygous germline SNVs, one row per site and sample (HET_COLUMNS): every
    plasma draw and the matched normal (normals of one patient pooled into one row per site).

    A site qualifies when its category is germline, variant_type snv, no row of it carries a
    disqualifying filter (BENIGN_FILTERS), and the normal has ``ref + alt >= min_normal_depth``
    fragments with alt / (ref + alt) inside ``vaf_range`` (inclusive). ``pos`` is 1-based. When
    nothing qualifies the frame is empty and ``attrs["reason"]`` says why."""
    _check_columns(tracked, TRACKED_REQUIRED, source)
    t = tracked.reset_index(drop=True)
    germ = t[(t["category"] == "germline") & (t["variant_type"] == "snv")]
    germ = _numeric(germ.reset_index(drop=True), ["pos", "ref_count", "alt_count", "depth"],
                    source)
    germ["chrom"] = germ["chrom"].astype(str)
    germ["sample_id"] = germ["sample_id"].astype(str)
    if not (t["sample_type"] == "normal").any():
        return _empty_hets("no matched normal sample: BAF needs the normal to tell which "
                           "germline SNPs are heterozygous and to learn the allelic noise")
    key = ["chrom", "pos"]
    bad = germ.loc[_failing(germ["filters"]), key].drop_duplicates()
    germ = germ.merge(bad.assign(_bad=True), on=key, how="left")
    germ = germ[germ["_bad"].isna()].drop(columns="_bad")
    normal = germ[germ["sample_type"] == "normal"]
    pooled = normal.groupby(key, as_index=False)[["ref_count", "alt_count", "depth"]].sum()
    n = pooled["ref_count"] + pooled["alt_count"]
    vaf = pooled["alt_count"] / n.where(n > 0)
    lo, hi = vaf_range
    het = pooled.loc[(n >= min_normal_depth) & (vaf >= lo) & (vaf <= hi), key]
    if het.empty:
        return _empty_hets(f"no heterozygous germline SNV in the normal (depth >= "
                           f"{min_normal_depth}, VAF {lo:g}-{hi:g}, passing filters)")
    normal_id = ",".join(sorted(normal["sample_id"].unique()))
    normal_rows = pooled.merge(het, on=key).assign(sample_id=normal_id, sample_type="normal")
    plasma = germ[germ["sample_type"] != "normal"].merge(het, on=key)
    out = pd.concat([plasma[HET_COLUMNS], normal_rows[HET_COLUMNS]], ignore_index=True)
    for col in ("pos", "ref_count", "alt_count", "depth"):
        out[col] = out[col].astype(np.int64)
    out.attrs["reason"] = ""
    return out


def _empty_hets(reason: str) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object if c in ("sample_id", "sample_type", "chrom")
                                     else np.int64) for c in HET_COLUMNS})
    out.attrs["reason"] = reason
    return out


# ----------------------------------------------------------------------------------------------
# Noise model from the normal


def betabinom_logpmf(k: np.ndarray, n: np.ndarray, p: np.ndarray, rho: float) -> np.ndarray:
    """log P(k | n) of a beta-binomial with mean ``p`` and intra-class correlation ``rho``
    (variance ``n p (1 - p) (1 + (n - 1) rho)``); arrays broadcast."""
    scale = (1.0 - rho) / rho
    a, b = p * scale, (1.0 - p) * scale
    log_choose = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    return log_choose + special.betaln(k + a, n - k + b) - special.betaln(a, b)


def _window(n: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every alt count k with lo <= k / n <= hi, flattened over the sites: (k, n, first index of
    each site's block)."""
    k_lo = np.ceil(lo * n - 1e-9).astype(np.int64)
    k_hi = np.floor(hi * n + 1e-9).astype(np.int64)
    sizes = np.maximum(k_hi - k_lo + 1, 0)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    k = np.arange(int(sizes.sum())) - np.repeat(starts - k_lo, sizes)
    return k.astype(float), np.repeat(n, sizes), starts


def _window_logprob(window: tuple, r: float, rho: float) -> np.ndarray:
    """log P(lo <= K / n <= hi) per site: the chance a het is selected at all."""
    k, n, starts = window
    logp = betabinom_logpmf(k, n, r, rho)
    top = np.maximum.reduceat(logp, starts)
    return top + np.log(np.add.reduceat(np.exp(logp - np.repeat(top, np.diff(
        np.append(starts, len(k))))), starts))


def fit_noise(alt: np.ndarray, n: np.ndarray, vaf_range: tuple[float, float] = (0.3, 0.7)
              ) -> NoiseModel:
    """Maximum-likelihood ``r`` and ``rho`` from the normal's het counts (alt of n fragments),
    each site's likelihood conditioned on its alt fraction having fallen inside ``vaf_range``."""
    alt = np.asarray(alt, float)
    n = np.asarray(n, float)
    lo, hi = vaf_range
    r0 = float(alt.sum() / n.sum())
    # Method-of-moments start: the excess of the per-site variance over the binomial's.
    resid = ((alt - n * r0) ** 2 / (n * r0 * (1 - r0))).mean() if len(n) else 1.0
    rho0 = float(np.clip((resid - 1.0) / max(float(n.mean()) - 1.0, 1.0), 1e-3, 0.05))

    window = _window(n, lo, hi)

    def negll(x: np.ndarray) -> float:
        r, rho = float(x[0]), float(math.exp(x[1]))
        ll = betabinom_logpmf(alt, n, r, rho) - _window_logprob(window, r, rho)
        return -float(ll.sum())

    res = optimize.minimize(negll, np.array([r0, math.log(rho0)]), method="L-BFGS-B",
                            bounds=[(lo + 0.01, hi - 0.01),
                                    (math.log(RHO_FLOOR), math.log(RHO_MAX))])
    return NoiseModel(reference_bias=float(res.x[0]),
                      overdispersion=float(max(math.exp(res.x[1]), RHO_FLOOR)), n_sites=len(n))


def biased(x: np.ndarray, r: float) -> np.ndarray:
    """Observed alt fraction for a true alt fraction ``x`` under reference bias ``r``."""
    k = r / (1.0 - r)
    return x * k / (x * k + 1.0 - x)


def major_fraction(t: np.ndarray, major, total) -> np.ndarray:
    """``b(t)``: plasma fraction of the major haplotype's allele (tumour M of c copies);
    arrays broadcast."""
    t = np.asarray(t, float)
    return (t * major + (1.0 - t)) / (t * total + 2.0 * (1.0 - t))


def snp_loglik(t: np.ndarray, alt: np.ndarray, n: np.ndarray, major, total,
               noise: NoiseModel) -> np.ndarray:
    """(len(t), len(alt)) log-likelihood of each SNP at each TF, phase summed out; ``major`` and
    ``total`` are the tumour's copy numbers, one value or one per SNP."""
    t = np.atleast_1d(np.asarray(t, float))[:, None]
    b = major_fraction(t, major, total)
    r, rho = noise.reference_bias, noise.overdispersion
    one = betabinom_logpmf(alt[None], n[None], biased(b, r), rho)
    other = betabinom_logpmf(alt[None], n[None], biased(1.0 - b, r), rho)
    return np.logaddexp(one, other) + math.log(0.5)


# ----------------------------------------------------------------------------------------------
# Segments from the copy-number HMM


def segments_from_states(states: pd.DataFrame, source: str = "hmm_states") -> pd.DataFrame:
    """Runs of equal state along each chromosome: chromosome, start, end (0-based half-open,
    first bin's start to last bin's end), total_copy, amp."""
    _check_columns(states, STATES_REQUIRED, source)
    s = _numeric(states.reset_index(drop=True), ["start", "end", "state"], source)
    s["chromosome"] = s["chromosome"].astype(str)
    s["amp"] = s["amp"].astype(str).str.lower().isin(["true", "1"])
    order = {c: i for i, c in enumerate(pd.unique(s["chromosome"]))}
    s = s.assign(_c=s["chromosome"].map(order)).sort_values(["_c", "start"], kind="mergesort")
    new = ((s["chromosome"] != s["chromosome"].shift()) | (s["state"] != s["state"].shift())
           | (s["amp"] != s["amp"].shift()))
    s["_run"] = new.cumsum()
    runs = s.groupby("_run", sort=True).agg(chromosome=("chromosome", "first"),
                                            start=("start", "min"), end=("end", "max"),
                                            total_copy=("state", "first"), amp=("amp", "first"))
    runs["total_copy"] = runs["total_copy"].astype(int)
    runs["start"] = runs["start"].astype(np.int64)
    runs["end"] = runs["end"].astype(np.int64)
    return runs.reset_index(drop=True)


def _chrom_key(name: str) -> str:
    # "chr1" and "1" name the same chromosome in tables written against different references.
    return name[3:] if name.lower().startswith("chr") else name


def assign_segments(hets: pd.DataFrame, segments: pd.DataFrame) -> np.ndarray:
    """Index into ``segments`` of the run containing each het (1-based pos -> 0-based), -1 for
    SNPs outside every run (between runs of different states, or beyond the bins)."""
    out = np.full(len(hets), -1, dtype=np.int64)
    pos0 = hets["pos"].to_numpy(np.int64) - 1
    chrom = hets["chrom"].astype(str).map(_chrom_key).to_numpy()
    seg_chrom = segments["chromosome"].map(_chrom_key).to_numpy()
    for c in np.unique(chrom):
        idx = np.flatnonzero(seg_chrom == c)
        if not len(idx):
            continue
        starts = segments["start"].to_numpy()[idx]
        ends = segments["end"].to_numpy()[idx]
        mine = np.flatnonzero(chrom == c)
        j = np.searchsorted(starts, pos0[mine], side="right") - 1
        ok = (j >= 0) & (pos0[mine] < ends[np.clip(j, 0, None)])
        out[mine[ok]] = idx[j[ok]]
    return out


# ----------------------------------------------------------------------------------------------
# The fit


@dataclass
class _Draw:
    sample_id: str
    alt: np.ndarray
    n: np.ndarray
    seg: np.ndarray  # index into the fitted segments


def _grid_loglik(draws: list[_Draw], totals: np.ndarray, noise: NoiseModel) -> list[list]:
    """L[s][k]: (n_options_k, len(TF_GRID)) summed log-likelihood of draw s's SNPs in segment k
    for each minor copy number m = 0..floor(c_k / 2)."""
    out = []
    for d in draws:
        per_seg = []
        for k, c in enumerate(totals):
            sel = d.seg == k
            rows = [snp_loglik(TF_GRID, d.alt[sel], d.n[sel], int(c) - m, int(c), noise).sum(1)
                    for m in range(int(c) // 2 + 1)]
            per_seg.append(np.array(rows))
        out.append(per_seg)
    return out


def _best_m(L: list[list], t_idx: np.ndarray, k: int) -> int:
    """The minor copy number of segment k that maximises the draws' summed log-likelihood at
    their current TFs; ties go to the most balanced state (largest m)."""
    score = sum(L[s][k][:, t_idx[s]] for s in range(len(L)))
    best = len(score) - 1
    for m in range(len(score) - 2, -1, -1):
        if score[m] > score[best] + M_TIE:
            best = m
    return best


def _alternate(L: list[list], n_seg: int, t0: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Alternating maximisation on the grid from every draw at grid index ``t0``."""
    t_idx = np.full(len(L), t0)
    m = np.zeros(n_seg, dtype=int)
    total = -np.inf
    for _ in range(MAX_ITER):
        m = np.array([_best_m(L, t_idx, k) for k in range(n_seg)], dtype=int)
        curves = [sum(L[s][k][m[k]] for k in range(n_seg)) for s in range(len(L))]
        t_idx = np.array([int(np.argmax(c)) for c in curves])
        new = float(sum(c[i] for c, i in zip(curves, t_idx)))
        if new <= total + 1e-9:
            break
        total = new
    return total, t_idx, m


def fit_allelic_states(L: list[list], n_seg: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid TF index per draw and minor copy number per segment: best of TF_STARTS."""
    best = None
    for t0 in TF_STARTS:
        res = _alternate(L, n_seg, int(np.argmin(np.abs(TF_GRID - t0))))
        if best is None or res[0] > best[0] + 1e-9:
            best = res
    return best[1], best[2]


def _draw_curve(d: _Draw, totals: np.ndarray, minors: np.ndarray, noise: NoiseModel):
    """l(t) of one draw with the segments' minor copy numbers fixed (vectorised over t)."""
    total = totals[d.seg]
    major = total - minors[d.seg]
    return lambda t: snp_loglik(t, d.alt, d.n, major, total, noise).sum(1)


def _estimate(loglik, grid_ll: np.ndarray) -> dict:
    """MLE (grid maximum refined between its neighbours), profile interval and LLR of one draw."""
    i = int(np.argmax(grid_ll))
    lo_t, hi_t = TF_GRID[max(i - 1, 0)], TF_GRID[min(i + 1, len(TF_GRID) - 1)]
    res = optimize.minimize_scalar(lambda x: -float(loglik(x)[0]), bounds=(lo_t, hi_t),
                                   method="bounded", options={"xatol": 1e-6})
    t_hat, l_max = (float(res.x), -float(res.fun)) if -res.fun > grid_ll[i] else (
        float(TF_GRID[i]), float(grid_ll[i]))
    cut = l_max - CHI2_95 / 2.0

    def edge(inside: float, outside: float) -> float:
        return float(optimize.brentq(lambda x: float(loglik(x)[0]) - cut, inside, outside,
                                     xtol=1e-6))

    below = np.flatnonzero((TF_GRID < t_hat) & (grid_ll < cut))
    above = np.flatnonzero((TF_GRID > t_hat) & (grid_ll < cut))
    lower = edge(t_hat, TF_GRID[below[-1]]) if len(below) else 0.0
    upper = edge(t_hat, TF_GRID[above[0]]) if len(above) else float(TF_GRID[-1])
    return {"tumour_fraction_baf": t_hat, "tf_baf_lower": lower, "tf_baf_upper": upper,
            "llr_baf": max(0.0, l_max - float(loglik(0.0)[0]))}


def fit_baf(tracked: pd.DataFrame, states: dict[str, pd.DataFrame], reference_sample: str,
            min_hets: int = 5, min_normal_depth: int = 20,
            vaf_range: tuple[float, float] = (0.3, 0.7),
            source: str = "tracked_variants.tsv", noise: NoiseModel | None = None) -> BafFit:
    """BAF tumour fraction of every plasma draw of one patient (see the module docstring).

    ``tracked``: the patient's rows of tracked_variants.tsv (all samples, the normal included);
    ``states``: sample_id -> that draw's hmm_states table; only ``reference_sample``'s is used.
    Draws without an estimate get NaN and a ``note`` saying why. ``noise``: the normal's noise
    model when already fitted on the same hets (fits of one patient on several paths share it)."""
    _check_columns(tracked, TRACKED_REQUIRED, source)
    patients = pd.unique(tracked["patient_id"].astype(str))
    if len(patients) > 1:
        raise InputError(f"{source}: BAF is fitted per patient; got {len(patients)} patients "
                         f"({', '.join(patients[:5])})")
    patient = patients[0] if len(patients) else ""
    plasma = tracked[tracked["sample_type"] != "normal"].drop_duplicates("sample_id")
    time_col = plasma["timepoint_days"] if "timepoint_days" in plasma else np.nan
    base = pd.DataFrame({"sample_id": plasma["sample_id"].astype(str), "patient_id": patient,
                         "timepoint_days": time_col}).reset_index(drop=True)
    hets = germline_hets(tracked, min_normal_depth, vaf_range, source)
    if hets.empty:
        return _no_estimate(base, hets.attrs["reason"], hets)
    normal = hets[hets["sample_type"] == "normal"]
    if noise is None:
        noise = fit_noise(normal["alt_count"].to_numpy(), (normal["ref_count"]
                          + normal["alt_count"]).to_numpy(), vaf_range)
    base["reference_bias"], base["overdispersion"] = noise.reference_bias, noise.overdispersion
    if reference_sample not in states:
        raise InputError(f"hmm_states: no table for the reference sample {reference_sample!r} "
                         f"(have {sorted(states)})")
    runs = segments_from_states(states[reference_sample], f"{reference_sample}.hmm_states.tsv")
    if runs.empty:
        return _no_estimate(base, f"{reference_sample}.hmm_states.tsv has no bins", hets)
    hets = hets.assign(segment=assign_segments(hets, runs))
    seg = hets["segment"].to_numpy()
    in_amp = pd.Series((seg >= 0) & runs["amp"].to_numpy(bool)[np.clip(seg, 0, None)],
                       index=hets.index)
    notes = []
    if in_amp.any():
        notes.append(f"{hets.loc[in_amp, ['chrom', 'pos']].drop_duplicates().shape[0]} SNPs in "
                     "amplification-state bins dropped (copy number not known exactly)")
    outside = hets["segment"] < 0
    if outside.any():
        notes.append(f"{hets.loc[outside, ['chrom', 'pos']].drop_duplicates().shape[0]} SNPs "
                     "outside the copy-number segments dropped")
    usable = hets[~in_amp & ~outside & (hets["sample_type"] != "normal")
                  & (hets["ref_count"] + hets["alt_count"] > 0)]
    return _fit_draws(base, usable, runs, noise, min_hets, notes, hets)


def _fit_draws(base: pd.DataFrame, usable: pd.DataFrame, runs: pd.DataFrame, noise: NoiseModel,
               min_hets: int, notes: list[str], hets: pd.DataFrame) -> BafFit:
    """The alternating fit over the draws with at least ``min_hets`` usable SNPs, and the table."""
    seg_ids = np.sort(usable["segment"].unique())
    remap = {int(k): i for i, k in enumerate(seg_ids)}
    totals = runs["total_copy"].to_numpy()[seg_ids].astype(int)
    counts = usable.groupby("sample_id")["pos"].size()
    draws = []
    for sid in base["sample_id"]:
        if counts.get(sid, 0) < min_hets:
            continue
        u = usable[usable["sample_id"] == sid]
        draws.append(_Draw(sid, u["alt_count"].to_numpy(float),
                           (u["ref_count"] + u["alt_count"]).to_numpy(float),
                           u["segment"].map(remap).to_numpy(int)))
    minors = np.full(len(seg_ids), -1)
    if draws:
        L = _grid_loglik(draws, totals, noise)
        _, minors = fit_allelic_states(L, len(seg_ids))
    rows, profiles = [], []
    for _, b in base.iterrows():
        row = b.to_dict()
        d = next((x for x in draws if x.sample_id == row["sample_id"]), None)
        row.update(_draw_result(d, totals, minors, noise, min_hets, counts, profiles))
        row["note"] = "; ".join([n for n in [row["note"]] + notes if n])
        rows.append(row)
    segments = runs[["chromosome", "start", "end", "total_copy"]].copy()
    segments["minor_copy"] = np.nan
    segments.loc[seg_ids, "minor_copy"] = minors if draws else np.nan
    segments["n_het"] = segments.index.map(
        usable.drop_duplicates(["chrom", "pos"])["segment"].value_counts()).fillna(0).astype(int)
    profile = (pd.concat(profiles, ignore_index=True) if profiles
               else pd.DataFrame(columns=PROFILE_COLUMNS))
    return BafFit(draws=pd.DataFrame(rows, columns=DRAW_COLUMNS), profile=profile,
                  segments=segments[SEGMENT_COLUMNS], hets=hets, noise=noise)


def _draw_result(d: _Draw | None, totals: np.ndarray, minors: np.ndarray, noise: NoiseModel,
                 min_hets: int, counts: pd.Series, profiles: list) -> dict:
    """Estimate, interval, counts and note of one draw (NaN with the reason where none)."""
    nan = {"tumour_fraction_baf": np.nan, "tf_baf_lower": np.nan, "tf_baf_upper": np.nan,
           "llr_baf": np.nan, "n_imbalanced": 0}
    if d is None:
        return {**nan, "n_het": 0, "note": f"fewer than {min_hets} usable heterozygous SNPs"}
    imbalanced = totals[d.seg] != 2 * minors[d.seg]
    out = {"n_het": len(d.alt), "n_imbalanced": int(imbalanced.sum())}
    if not imbalanced.any():
        return {**nan, **out, "note": "no allelically imbalanced segment (every fitted state has "
                "M = m): allelic imbalance cannot measure the tumour fraction here"}
    loglik = _draw_curve(d, totals, minors, noise)
    grid_ll = loglik(TF_GRID)
    profiles.append(pd.DataFrame({"sample_id": d.sample_id, "tf": TF_GRID, "loglik": grid_ll}))
    return {**out, **_estimate(loglik, grid_ll), "note": ""}


def _no_estimate(base: pd.DataFrame, reason: str, hets: pd.DataFrame) -> BafFit:
    rows = base.assign(tumour_fraction_baf=np.nan, tf_baf_lower=np.nan, tf_baf_upper=np.nan,
                       llr_baf=np.nan, n_het=0, n_imbalanced=0, reference_bias=np.nan,
                       overdispersion=np.nan, note=reason)
    return BafFit(draws=rows[DRAW_COLUMNS], profile=pd.DataFrame(columns=PROFILE_COLUMNS),
                  segments=pd.DataFrame(columns=SEGMENT_COLUMNS), hets=hets, noise=None)


def baf_tumour_fraction(tracked: pd.DataFrame, states: dict[str, pd.DataFrame],
                        reference_sample: str, min_hets: int = 5, min_normal_depth: int = 20,
                        vaf_range: tuple[float, float] = (0.3, 0.7),
                        source: str = "tracked_variants.tsv"
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-draw table (DRAW_COLUMNS) and profile (PROFILE_COLUMNS: sample_id, tf, loglik on
    TF_GRID) of one patient; see :func:`fit_baf`."""
    fit = fit_baf(tracked, states, reference_sample, min_hets, min_normal_depth, vaf_range,
                  source)
    return fit.draws, fit.profile
