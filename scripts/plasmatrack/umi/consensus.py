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
# (vote index, base code) combinations of one read at a position: vote indices 0-MAX_PHRED + 1,
# base codes 0-4 (ConsensusModel's lookup tables of small families).
_KEYS = (MAX_PHRED + 2) * 5


def encode(sequence: str) -> np.ndarray:
    """Base codes (0-4) of a sequence."""
    return CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]


def phred_to_error(q) -> np.ndarray:
    return np.power(10.0, -np.asarray(q, dtype=float) / 10.0)


def two_trials(p1, p2):
    """Probability that two independent error chances with rates ``p1``, ``p2`` leave a wrong
    base (a second error can restore the base one time in three)."""
    return p1 + p2 - 4.0 / 3.0 * p1 * p2


@dataclass(slots=True)
class ConsensusRead:
    """One consensus read: base codes, Phred qualities, raw bases voting (depth) and raw bases
    disagreeing with the consensus (errors) at each position. Made with its batch (a handful of
    numpy calls per batch, not per read): ``totals``, the read's (max depth, min depth, summed
    depth, summed errors), and ``encoded``, its BAM record's values as bytes (sequence letters,
    Phred qualities, per-base depth and errors as int16 capped at 32,767 for the ``B:s`` tags
    ``cd`` / ``ce``)."""

    bases: np.ndarray
    quals: np.ndarray
    depth: np.ndarray
    errors: np.ndarray
    totals: tuple[int, int, int, int] = (0, 0, 0, 0)
    encoded: tuple[bytes, bytes, bytes, bytes] = (b"", b"", b"", b"")


def _batch_reads(bases: np.ndarray, quals: np.ndarray, depth: np.ndarray, errors: np.ndarray
                 ) -> list[ConsensusRead]:
    """The ``ConsensusRead`` of each row of (F x L) arrays, with ``totals`` and ``encoded``."""
    totals = zip(depth.max(axis=1).tolist(), depth.min(axis=1).tolist(),
                 depth.sum(axis=1).tolist(), errors.sum(axis=1).tolist())
    cap = np.iinfo(np.int16).max
    text, phred = LETTERS[bases].tobytes(), quals.tobytes()
    cd = np.minimum(depth, cap).astype(np.int16).tobytes()
    ce = np.minimum(errors, cap).astype(np.int16).tobytes()
    length = bases.shape[1]
    out = []
    for i, total in enumerate(totals):
        a, b = i * length, (i + 1) * length
        out.append(ConsensusRead(bases[i], quals[i], depth[i], errors[i], total,
                                 (text[a:b], phred[a:b], cd[2 * a:2 * b], ce[2 * a:2 * b])))
    return out


def _first_max(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(index of the largest array at each element, first one on ties as ``argmax``; that
    largest value)."""
    best = np.zeros(arrays[0].shape, dtype=np.intp)
    top = arrays[0]
    for b, values in enumerate(arrays[1:], start=1):
        # np.where, not a masked assignment: several times faster on these sizes.
        higher = values > top
        best = np.where(higher, b, best)
        top = np.where(higher, values, top)
    return best, top


class ConsensusModel:
    """The likelihood model with its per-quality tables computed once."""

    def __init__(self, settings: UmiSettings) -> None:
        error = two_trials(phred_to_error(np.arange(MAX_PHRED + 1)),
                           phred_to_error(settings.error_rate_post_umi))
        # Raw quality (0-255) -> the index of its terms below: capped at MAX_PHRED, and
        # MAX_PHRED + 1 (no vote) below ``min_input_base_quality``.
        self.vote_index = np.minimum(np.arange(256), MAX_PHRED).astype(np.uint8)
        self.vote_index[:settings.min_input_base_quality] = MAX_PHRED + 1
        # Index MAX_PHRED + 1 stands for a base that does not vote (N or low quality).
        self.ll_other = np.append(np.log(error / 3.0), 0.0)
        self.ll_gain = np.append(np.log1p(-error), 0.0) - self.ll_other
        self.pre_umi = float(phred_to_error(settings.error_rate_pre_umi))
        self.min_quality = settings.min_input_base_quality
        self.max_quality = settings.max_base_quality
        self.min_consensus = settings.min_consensus_base_quality
        self.keep_one_strand = settings.duplex_one_strand_bases == "keep"
        # Families of one and two reads (over a third of the demo's strand families): one
        # table lookup per position.
        self.small = {n: self._family_table(n) for n in (1, 2)}

    def _family_table(self, n: int) -> tuple[np.ndarray, ...]:
        """The consensus arrays of an n-read family for every combination of its reads'
        (vote index, base code) at a position, at index ``key(read 1) * KEYS + key(read 2)``
        (``key = vote index * 5 + base``): computed once by the general path, which computes
        each position on its own, so a lookup gives the same values."""
        keys = np.arange(_KEYS ** n)
        per_read = np.stack([keys // _KEYS ** (n - 1 - r) % _KEYS for r in range(n)])
        bases, votes = (per_read % 5).astype(np.uint8), (per_read // 5).astype(np.uint8)
        return tuple(a[0] for a in self._call_votes(bases[None], votes[None]))

    def call_stacked(self, bases: np.ndarray, quals: np.ndarray) -> list[ConsensusRead]:
        """Consensus of each of F families of n reads of length L: base codes ``bases`` and
        Phred qualities ``quals`` as (F x n x L) arrays, one computation for all (which is what
        makes many small families fast)."""
        return _batch_reads(*self._call_batch(bases, quals))

    def _call_batch(self, bases: np.ndarray, quals: np.ndarray):
        """Consensus arrays (F x L) of F families of n reads of length L (F x n x L)."""
        q = self.vote_index.take(quals)
        q[bases == N] = MAX_PHRED + 1
        tables = self.small.get(bases.shape[1])
        if tables is None:
            return self._call_votes(bases, q)
        key = np.zeros(q[:, 0].shape, dtype=np.intp)
        for r in range(bases.shape[1]):
            key = key * _KEYS + q[:, r].astype(np.intp) * 5 + bases[:, r]
        return tuple(table.take(key) for table in tables)

    def _call_votes(self, bases: np.ndarray, q: np.ndarray):
        """``_call_batch`` from the vote indices ``q`` (``vote_index`` of the qualities, no
        vote for N bases)."""
        n_families, _, length = bases.shape
        valid = q <= MAX_PHRED
        # log-likelihood of base X at a position: every voting base's "other" term, plus the
        # gain (match - other) of the bases that are X. The gains are summed per (family,
        # position, base) by one bincount over the reads in order, which adds the same terms
        # in the same order as a sum over the read axis (identical floats), with one pass
        # over the (F x n x L) values instead of one per base.
        slots = np.arange(0, n_families * length * 5, 5).reshape(n_families, 1, length)
        gains = np.bincount((slots + np.where(valid, bases, N)).ravel(),
                            self.ll_gain.take(q).ravel(),
                            minlength=n_families * length * 5).reshape(n_families, length, 5)
        other = self.ll_other.take(q).sum(axis=1)
        loglik = [gains[:, :, b] + other for b in range(4)]
        best, top = _first_max(loglik)
        # posterior error of the best base: the other bases' likelihoods relative to it
        others = sum(np.where(best == b, 0.0, np.exp(ll - top)) for b, ll in enumerate(loglik))
        error = two_trials(others / (1.0 + others), self.pre_umi)
        with np.errstate(divide="ignore"):
            phred = np.floor(-10.0 * np.log10(error))
        depth = valid.sum(axis=1)
        called = (depth > 0) & (phred >= self.min_consensus)
        cons = np.where(called, best, N).astype(np.uint8)
        qual = np.where(called, np.clip(phred, NO_CALL_QUALITY, self.max_quality),
                        NO_CALL_QUALITY).astype(np.uint8)
        errors = (valid & (bases != cons[:, None, :])).sum(axis=1)
        return cons, qual, depth.astype(np.int32), errors.astype(np.int32)

    def duplex_many(self, pairs: list[tuple[ConsensusRead, ConsensusRead]]
                    ) -> list[ConsensusRead]:
        """``duplex`` of each (strand A, strand B) pair; pairs of one length at once."""
        by_length: dict[int, list[int]] = {}
        for i, (a, _) in enumerate(pairs):
            by_length.setdefault(len(a.bases), []).append(i)
        out: list[ConsensusRead] = [None] * len(pairs)  # type: ignore[list-item]
        for members in by_length.values():
            a, b = (ConsensusRead(np.stack([pairs[i][k].bases for i in members]),
                                  np.stack([pairs[i][k].quals for i in members]),
                                  np.stack([pairs[i][k].depth for i in members]),
                                  np.stack([pairs[i][k].errors for i in members]))
                    for k in (0, 1))
            combined = self.duplex(a, b)
            rows = _batch_reads(combined.bases, combined.quals, combined.depth, combined.errors)
            for i, read in zip(members, rows):
                out[i] = read
        return out

    def duplex(self, a: ConsensusRead, b: ConsensusRead) -> ConsensusRead:
        """Combine the two strands' consensus reads of one end: agreeing bases with the summed
        quality (capped), disagreeing bases as N, and a base seen on one strand only (the
        other N) as N, or with ``duplex_one_strand_bases: keep`` as that strand's base and
        quality (fgbio CallDuplexConsensusReads without FilterConsensusReads'
        ``--require-single-strand-agreement``)."""
        a_ok, b_ok = a.bases < N, b.bases < N
        agree = a_ok & b_ok & (a.bases == b.bases)
        only_a, only_b = a_ok & ~b_ok, b_ok & ~a_ok
        if not self.keep_one_strand:
            only_a = only_b = np.zeros_like(agree)
        bases = np.where(agree | only_a, a.bases, np.where(only_b, b.bases, N)).astype(np.uint8)
        summed = np.minimum(a.quals.astype(np.int32) + b.quals, self.max_quality)
        quals = np.where(agree, summed, np.where(only_a, a.quals,
                                                 np.where(only_b, b.quals, NO_CALL_QUALITY)))
        return ConsensusRead(bases, quals.astype(np.uint8), a.depth + b.depth,
                             a.errors + b.errors)
