"""The umi stage's fast paths give exactly what the plain computations they replaced give: the
likelihood sums by one bincount (bit-identical floats), the adapter mask counted along the CIGAR,
and the cached UMI parse of read names. The plain versions are written out here as oracles."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from plasmatrack.umi import UmiSettings
from plasmatrack.umi.consensus import MAX_PHRED, NO_CALL_QUALITY, N, ConsensusModel, two_trials
from plasmatrack.umi.molecules import past_mate
from plasmatrack.umi.umis import umi_from_name


def _plain_call(model: ConsensusModel, bases: np.ndarray, quals: np.ndarray):
    """The consensus arrays by one (F x n x L) where-and-sum per candidate base."""
    valid = (bases < N) & (quals >= model.min_quality)
    q = np.where(valid, np.minimum(quals, MAX_PHRED), MAX_PHRED + 1)
    gain, other = model.ll_gain[q], model.ll_other[q].sum(axis=1)
    loglik = np.stack([np.where(bases == b, gain, 0.0).sum(axis=1) + other for b in range(4)])
    best = loglik.argmax(axis=0)
    top = np.take_along_axis(loglik, best[None], axis=0)[0]
    others = sum(np.where(best == b, 0.0, np.exp(loglik[b] - top)) for b in range(4))
    error = two_trials(others / (1.0 + others), model.pre_umi)
    with np.errstate(divide="ignore"):
        phred = np.floor(-10.0 * np.log10(error))
    depth = valid.sum(axis=1)
    called = (depth > 0) & (phred >= model.min_consensus)
    cons = np.where(called, best, N)
    qual = np.where(called, np.clip(phred, NO_CALL_QUALITY, model.max_quality), NO_CALL_QUALITY)
    errors = (valid & (bases != cons[:, None, :])).sum(axis=1)
    return cons, qual, depth, errors


@pytest.mark.parametrize("shape", [(7, 1, 30), (40, 2, 50), (25, 5, 101), (3, 40, 20)])
def test_bincount_likelihoods_equal_the_plain_sums_bit_for_bit(shape):
    rng = np.random.default_rng(sum(shape))
    model = ConsensusModel(UmiSettings.from_config({"mode": "duplex"}))
    truth = rng.integers(0, 4, (shape[0], 1, shape[2]))
    bases = np.repeat(truth, shape[1], axis=1).astype(np.uint8)
    flip = rng.random(shape) < 0.2  # many disagreements, so ties and close calls occur
    bases[flip] = (bases[flip] + rng.integers(1, 4, int(flip.sum()))) % 4
    bases[rng.random(shape) < 0.02] = N
    quals = rng.choice(np.array([2, 5, 11, 20, 30, 37, 41, 60, 99], dtype=np.uint8), shape)
    fast = model._call_batch(bases, quals)
    plain = _plain_call(model, bases, quals)
    for got, want in zip(fast, plain):
        assert np.array_equal(got, want)
    # small families' ties and low-quality columns reach the no-call branch; 40 reads outvote
    assert (fast[0] < N).any() and (fast[0] == N).any() == (shape[1] <= 5)


def _plain_mask(read: pysam.AlignedSegment, mate: pysam.AlignedSegment) -> slice | None:
    """The adapter mask from an array of every query base's reference position."""
    forward, reverse = (mate, read) if read.is_reverse else (read, mate)
    if forward.reference_start > reverse.reference_end:
        return None  # not facing inwards: no mask
    positions, ref = [], read.reference_start
    cigar = read.cigartuples
    if cigar[0][0] == pysam.CSOFT_CLIP:
        ref -= cigar[0][1]
    for op, length in cigar:
        if op in (pysam.CMATCH, pysam.CEQUAL, pysam.CDIFF, pysam.CSOFT_CLIP):
            positions += range(ref, ref + length)
            ref += length
        elif op == pysam.CINS:
            positions += [ref] * length
        elif op in (pysam.CDEL, pysam.CREF_SKIP):
            ref += length
    positions = np.array(positions)
    if read.is_reverse:
        lead = mate.cigartuples[0]
        start = mate.reference_start - (lead[1] if lead[0] == pysam.CSOFT_CLIP else 0)
        count = int(np.searchsorted(positions, start))
        return slice(0, count) if count else None
    tail = mate.cigartuples[-1]
    end = mate.reference_end + (tail[1] if tail[0] == pysam.CSOFT_CLIP else 0)
    first = int(np.searchsorted(positions, end))
    return slice(first, len(positions)) if first < len(positions) else None


def _aligned(header, cigar: str, start: int, reverse: bool) -> pysam.AlignedSegment:
    read = pysam.AlignedSegment(header)
    read.query_name, read.reference_id, read.reference_start = "r", 0, start
    read.flag = 0x1 | (0x10 if reverse else 0x20)
    read.cigarstring = cigar
    length = read.infer_query_length()
    read.query_sequence, read.query_qualities = "A" * length, pysam.qualitystring_to_array(
        "?" * length)
    return read


CIGARS = ["100M", "3S97M", "90M10S", "5H3S92M", "40M2I58M", "30M4D70M", "2S50M3I20M6D25M",
          "60M1I1D39M", "95M5H", "10S80M10S"]


@pytest.mark.parametrize("forward_cigar", CIGARS)
def test_adapter_mask_by_cigar_walk_equals_the_position_array(forward_cigar):
    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "c", "LN": 10_000}]})
    rng = np.random.default_rng(len(forward_cigar))
    checked = 0
    for reverse_cigar in CIGARS:
        for offset in (-120, -40, -3, 0, 2, 35, 80, 150):
            forward = _aligned(header, forward_cigar, 1_000, False)
            reverse = _aligned(header, reverse_cigar, 1_000 + offset + int(rng.integers(0, 3)),
                               True)
            for read, mate in ((forward, reverse), (reverse, forward)):
                assert past_mate(read, mate) == _plain_mask(read, mate), (
                    forward_cigar, reverse_cigar, offset, read.is_reverse)
                checked += 1
    assert checked == 2 * len(CIGARS) * 8


def test_cached_umi_parse_keeps_the_separator_meaning():
    # the same last field after ":" and after "|" parses differently, whatever was seen first
    names = ["a:ACGTAC", "b|ACGTAC", "c_ACGTAC", "d:ACGTAC", "e|ACGTAC", "ACGTAC", "f:AC+GT",
             "g|AC-GT", "h:ACNT", "i:", "j"]
    want = ["ACGTAC", "ACG+TAC", "ACGTAC", "ACGTAC", "ACG+TAC", "ACGTAC", "AC+GT", "AC-GT",
            "ACNT", None, None]
    assert [umi_from_name(n) for n in names] == want
    assert [umi_from_name(n) for n in reversed(names)] == want[::-1]
