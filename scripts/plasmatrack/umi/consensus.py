"""The consensus of a family of reads, as fgbio's CallMolecularConsensusReads models it, and the
duplex combination of two strands' consensus reads.

Each raw base's quality is combined with the error rate after UMI attachment (``two_trials``);
the likelihood of each candidate base is the product over the family's bases of ``1 - e`` for
an agreeing base and ``e / 3`` for another; the consensus base is the most likely one and its
error the posterior of the other three (uniform prior), combined with the error rate before UMI
attachment (an error there is in every read of the family, so no number of reads removes it)
and capped at ``max_base_quality``. Bases are codes 0-3 (ACGT) and 4 (N), reads are rows of
equal length aligned base by base (same CIGAR)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import UmiSettings

N = 4
NO_CALL_QUALITY = 2
MAX_PHRED = 93
CODES = np.full(256, N, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    CODES[_b] = CODES[_b + 32] = _i
LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)


def encode(sequence: str) -> np.ndarray:
    """Base codes (0-4) of a sequence."""
    return CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    return LETTERS[codes].tobytes().decode()


def phred_to_error(q) -> np.ndarray:
    return np.power(10.0, -np.asarray(q, dtype=float) / 10.0)


def two_trials(p1, p2):
    """Probability that two independent error chances with rates ``p1``, ``p2`` leave a wrong
    base (a second error can restore the base one time in three)."""
    return p1 + p2 - 4.0 / 3.0 * p1 * p2


@dataclass
class ConsensusRead:
    """One consensus read: base codes, Phred qualities, raw bases voting (depth) and raw bases
    disagreeing with the consensus (errors) at each position."""

    bases: np.ndarray
    quals: np.ndarray
    depth: np.ndarray
    errors: np.ndarray


class ConsensusModel:
    """The likelihood model with its per-quality tables computed once."""

    def __init__(self, settings: UmiSettings) -> None:
        error = two_trials(phred_to_error(np.arange(MAX_PHRED + 1)),
                           phred_to_error(settings.error_rate_post_umi))
        self.ll_match = np.log1p(-error)
        self.ll_other = np.log(error / 3.0)
        self.pre_umi = float(phred_to_error(settings.error_rate_pre_umi))
        self.min_quality = settings.min_input_base_quality
        self.max_quality = settings.max_base_quality
        self.min_consensus = settings.min_consensus_base_quality

    def call(self, bases: np.ndarray, quals: np.ndarray) -> ConsensusRead:
        """Consensus of reads ``bases`` (n x L codes) with qualities ``quals`` (n x L Phred)."""
        valid = (bases < N) & (quals >= self.min_quality)
        q = np.minimum(quals, MAX_PHRED)
        other = np.where(valid, self.ll_other[q], 0.0)
        gain = np.where(valid, self.ll_match[q], 0.0) - other
        loglik = other.sum(axis=0)[:, None] + np.stack(
            [np.where(bases == code, gain, 0.0).sum(axis=0) for code in range(4)], axis=1)
        best = loglik.argmax(axis=1)
        rel = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        rel[np.arange(len(best)), best] = 0.0
        others = rel.sum(axis=1)
        error = two_trials(others / (1.0 + others), self.pre_umi)
        with np.errstate(divide="ignore"):
            phred = np.floor(-10.0 * np.log10(error))
        depth = valid.sum(axis=0)
        called = (depth > 0) & (phred >= self.min_consensus)
        cons = np.where(called, best, N).astype(np.uint8)
        qual = np.where(called, np.clip(phred, NO_CALL_QUALITY, self.max_quality),
                        NO_CALL_QUALITY).astype(np.uint8)
        errors = (valid & (bases != cons)).sum(axis=0)
        return ConsensusRead(cons, qual, depth.astype(np.int32), errors.astype(np.int32))

    def duplex(self, a: ConsensusRead, b: ConsensusRead) -> ConsensusRead:
        """Combine the two strands' consensus reads of one end: agreeing bases with the summed
        quality (capped), a base seen on one strand only with that strand's quality, and
        disagreeing bases as N."""
        a_ok, b_ok = a.bases < N, b.bases < N
        agree = a_ok & b_ok & (a.bases == b.bases)
        only_a, only_b = a_ok & ~b_ok, b_ok & ~a_ok
        bases = np.select([agree | only_a, only_b], [a.bases, b.bases], N).astype(np.uint8)
        summed = np.minimum(a.quals.astype(int) + b.quals, self.max_quality)
        quals = np.select([agree, only_a, only_b], [summed, a.quals, b.quals], NO_CALL_QUALITY)
        return ConsensusRead(bases, quals.astype(np.uint8), a.depth + b.depth,
                             a.errors + b.errors)
