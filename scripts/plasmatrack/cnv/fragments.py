"""Tumour fraction in genome copies from the read-depth HMM's fraction of fragments.

Read depth counts fragments. A genome copy of tumour DNA is cut into shorter fragments than one
of normal DNA (cfDNA: ~145-155 bp against ~167 bp), so it yields ``k = L_n / L_t`` times as
many fragments, with ``L_n`` and ``L_t`` the mean fragment lengths of normal- and
tumour-derived cfDNA. The HMM therefore measures the tumour's share of fragments per diploid
genome equivalent, ``t' = t k / (t k + 1 - t)``, while the VAF of a clonal SNV (depth at a base
sums fragment lengths, i.e. DNA mass), the plasma-copy-number formula of ``SCIENCE.md`` and the
simulator's truth all count genome copies, ``t``. Inverting:

    t = t' / (t' + k (1 - t'))

``k`` comes from the data. In a bin whose tumour copy number is ``c``, the share of
tumour-derived fragments is ``phi = t' c / (t' c + 2 (1 - t'))``, so the bin's mean fragment
length is ``L_n - D phi`` with ``D = L_n - L_t``. The HMM's state path gives ``phi`` per bin;
a weighted least-squares fit of the bins' mean lengths on ``phi``, with an intercept per draw
(libraries differ in length) and one ``D`` shared by a tumour's draws, gives ``D`` and its
standard error from within-draw contrasts between gained and lost regions alone. The
correction is applied when ``D`` differs from 0 by ``min_z`` standard errors (``k = 1``
otherwise: the reported TF is then the fraction of fragments), and the TF interval is widened
by ``k``'s own 95% interval. Only off-target bins are used on a capture panel (capture favours
longer fragments, so target bins would mix the two effects)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_tsv, write_tsv
from .coverage import read_bed

LENGTH_COLUMNS = ["chromosome", "start", "end", "fragments", "length_sum", "length_sumsq"]
MAX_FRAGMENT = 1000


def bin_fragment_lengths(bam: str | os.PathLike, bins: pd.DataFrame, min_mapq: int = 20,
                         max_length: int = MAX_FRAGMENT) -> pd.DataFrame:
    """Per bin (chromosome, start, end: 0-based half-open, sorted, non-overlapping): the number
    of fragments whose leftmost base lies in it and the sum and sum of squares of their lengths.
    Fragments are the QC stage's unique fragments (:mod:`plasmatrack.qc.bampass`): read 1 of a
    pair whose mates map to one chromosome, not a duplicate, secondary, supplementary or
    QC-failed record, starting at the leftmost mate, with length |TLEN|; here also with mapping
    quality >= ``min_mapq`` and length <= ``max_length``. Pairs outside the aligner's "proper"
    insert range count: they are mostly dinucleosomal fragments (~8% of a simulated draw,
    median ~310 bp), which read depth counts and which the mean length needs."""
    import pysam

    from ..qc.bampass import MATE_MAPPED_PAIR, NOT_UNIQUE, PAIRED, READ1

    out = bins[["chromosome", "start", "end"]].reset_index(drop=True).copy()
    n = np.zeros(len(out))
    s = np.zeros(len(out))
    s2 = np.zeros(len(out))
    try:
        handle = pysam.AlignmentFile(str(bam))
    except (OSError, ValueError) as exc:
        raise InputError(f"{bam}: cannot read the BAM ({exc})") from exc
    with handle:
        contigs = set(handle.references)
        for chrom, rows in out.groupby("chromosome", sort=False):
            if chrom not in contigs:
                continue
            starts = rows["start"].to_numpy(np.int64)
            ends = rows["end"].to_numpy(np.int64)
            idx = rows.index.to_numpy()
            pos, length = [], []
            for read in handle.fetch(chrom):
                flag = read.flag
                if (flag & NOT_UNIQUE or (flag & MATE_MAPPED_PAIR) != PAIRED
                        or not flag & READ1 or read.next_reference_id != read.reference_id
                        or not read.template_length or read.mapping_quality < min_mapq):
                    continue
                pos.append(min(read.reference_start, read.next_reference_start))
                length.append(abs(read.template_length))
            if not pos:
                continue
            p = np.asarray(pos, np.int64)
            ln = np.asarray(length, float)
            j = np.searchsorted(starts, p, side="right") - 1
            ok = (j >= 0) & (p < ends[np.maximum(j, 0)]) & (ln <= max_length)
            np.add.at(n, idx[j[ok]], 1)
            np.add.at(s, idx[j[ok]], ln[ok])
            np.add.at(s2, idx[j[ok]], ln[ok] ** 2)
    out["fragments"] = n.astype(np.int64)
    out["length_sum"] = s
    out["length_sumsq"] = s2
    return out


def sample_fragment_lengths(bam: str | os.PathLike, targets_bed: str | os.PathLike,
                            antitargets_bed: str | os.PathLike, out: str | os.PathLike,
                            min_mapq: int = 20) -> pd.DataFrame:
    """Rule ``cnv_coverage``'s length table: over the off-target bins of a panel, or over the
    fixed-size bins (``targets_bed``) when there are no off-target bins (whole genome)."""
    bed = antitargets_bed if os.path.getsize(antitargets_bed) else targets_bed
    bins = read_bed(bed).sort_values(["chromosome", "start"], kind="stable")
    table = bin_fragment_lengths(bam, bins, min_mapq)
    write_tsv(table, out)
    return table


def read_fragment_lengths(path: str | os.PathLike) -> pd.DataFrame:
    table = read_tsv(path, dtype={"chromosome": str})
    missing = [c for c in LENGTH_COLUMNS if c not in table]
    if missing:
        raise InputError(f"{path}: fragment-length table lacks columns {missing}")
    return table


@dataclass(frozen=True)
class LengthShift:
    """The fit of bins' mean fragment lengths on their tumour share for one tumour's draws.

    ``shift`` D = L_n - L_t in bp and its standard error; ``normal_length`` L_n (the draws'
    mean); ``ratio`` k = L_n / (L_n - D) and its 95% interval, all 1 when the correction is not
    applied (``applied`` False, ``reason`` says why)."""

    shift: float
    shift_se: float
    normal_length: float
    ratio: float
    ratio_lower: float
    ratio_upper: float
    applied: bool
    reason: str = ""

    def as_dict(self) -> dict:
        return {"fragment_length_shift": self.shift, "fragment_length_shift_se": self.shift_se,
                "fragment_length_ratio": self.ratio,
                "fragment_length_ratio_lower": self.ratio_lower,
                "fragment_length_ratio_upper": self.ratio_upper,
                "fragment_length_note": self.reason}


NO_SHIFT = LengthShift(np.nan, np.nan, np.nan, 1.0, 1.0, 1.0, False, "no fragment lengths")


def tumour_share(tf_fragments: float, copies: np.ndarray) -> np.ndarray:
    """Share of a bin's fragments that are tumour-derived, given the fragment-scale TF and the
    bin's tumour copy number."""
    t = float(tf_fragments)
    c = np.asarray(copies, float)
    if t <= 0:
        return np.zeros_like(c)
    return t * c / (t * c + 2.0 * (1.0 - t))


def estimate_shift(draws: list[tuple[pd.DataFrame, pd.DataFrame, float]],
                   min_z: float = 2.0, min_fragments: int = 20) -> LengthShift:
    """``draws``: per draw of one tumour, (fragment-length table, HMM states with chromosome,
    start, state, amp, the fragment-scale TF). Draws with TF 0 add nothing to the contrast but
    still inform the per-bin noise. Amplification-state bins are left out (their copy number is
    a fitted level, not a state)."""
    num = den = 0.0
    sum_n = sum_len = sum_sq = 0.0
    normal_lengths, weights = [], []
    for lengths, states, tf in draws:
        st = states[~states["amp"].astype(bool)][["chromosome", "start", "state"]]
        merged = lengths.merge(st.astype({"chromosome": str}), on=["chromosome", "start"])
        merged = merged[merged["fragments"] >= min_fragments]
        if merged.empty:
            continue
        n = merged["fragments"].to_numpy(float)
        mean = merged["length_sum"].to_numpy(float) / n
        phi = tumour_share(tf, merged["state"].to_numpy(float))
        pc = phi - np.average(phi, weights=n)
        mc = mean - np.average(mean, weights=n)
        num += float(np.sum(n * pc * mc))
        den += float(np.sum(n * pc * pc))
        sum_n += n.sum()
        sum_len += merged["length_sum"].sum()
        sum_sq += merged["length_sumsq"].sum()
        # the draw's normal length: its mean length plus D times its mean tumour share (set below)
        normal_lengths.append((mean, phi, n))
        weights.append(n.sum())
    if sum_n == 0:
        return NO_SHIFT
    if den <= 1e-8 * sum_n:  # every bin at one tumour share (all copy number 2, or TF 0)
        return LengthShift(np.nan, np.nan, sum_len / sum_n, 1.0, 1.0, 1.0, False,
                           "no tumour copy-number contrast")
    shift = -num / den
    variance = max(sum_sq / sum_n - (sum_len / sum_n) ** 2, 0.0)
    se = float(np.sqrt(variance / den))
    l_n = float(np.average([np.average(m + shift * p, weights=n) for m, p, n in normal_lengths],
                           weights=weights))
    if not np.isfinite(se) or se <= 0 or abs(shift) < min_z * se:
        return LengthShift(shift, se, l_n, 1.0, 1.0, 1.0, False,
                           f"length shift {shift:.1f} +- {se:.1f} bp below {min_z:g} SE")
    if shift + 1.96 * se >= l_n:
        return LengthShift(shift, se, l_n, 1.0, 1.0, 1.0, False,
                           f"length shift {shift:.1f} bp not below the normal length {l_n:.0f}")

    def ratio(d: float) -> float:
        return l_n / (l_n - d)

    return LengthShift(shift, se, l_n, ratio(shift), ratio(shift - 1.96 * se),
                       ratio(shift + 1.96 * se), True)


def genome_fraction(tf_fragments: float | np.ndarray, ratio: float) -> float | np.ndarray:
    """Genome-copy TF from the fragment-scale TF: t = t' / (t' + k (1 - t'))."""
    t = np.clip(np.asarray(tf_fragments, float), 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(t > 0, t / (t + ratio * (1.0 - t)), 0.0)
    return float(out) if out.ndim == 0 else out


def fragment_fraction(tf: float | np.ndarray, ratio: float) -> float | np.ndarray:
    """The inverse: t' = t k / (t k + 1 - t)."""
    t = np.clip(np.asarray(tf, float), 0.0, 1.0)
    out = t * ratio / (t * ratio + 1.0 - t)
    return float(out) if out.ndim == 0 else out


def genome_copy_columns(fit: dict, shift: LengthShift) -> dict:
    """The genome-copy TF and its interval for one fit row (tumour_fraction_fit, tf_lower,
    tf_upper on the fragment scale); the interval takes ``k``'s interval too."""
    return {"tumour_fraction_genome": genome_fraction(fit["tumour_fraction_fit"], shift.ratio),
            "tf_lower_genome": genome_fraction(fit["tf_lower"], shift.ratio_upper),
            "tf_upper_genome": genome_fraction(fit["tf_upper"], shift.ratio_lower),
            **shift.as_dict()}
