"""From molecules to gzipped paired FASTQ: PCR duplicates, somatic alleles, base qualities,
sequencing errors and the writing itself, all vectorised in chunks of read pairs.

Read 1 starts at one end of the fragment and read 2 at the other (reverse complement); a
fragment shorter than the read length is read through and both reads are trimmed to the
fragment (as an adapter trimmer would leave them). Base qualities are Illumina's four binned
values (2, 12, 23, 37), worse towards the end of a read; a base's error probability follows its
quality bin and Q2 bases are N."""

from __future__ import annotations

import gzip
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .fragments import Fragments

READ_LEN = 100
CHUNK = 40_000
LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
QUAL_CHARS = np.frombuffer(b"#-8F", dtype=np.uint8)  # Phred 2, 12, 23, 37
ERROR_PROB = np.array([0.0, 0.06, 0.005, 0.0008])  # per quality bin (Q2 bases are N anyway)

try:  # python-zlib-ng (a project requirement) compresses several times faster than zlib
    from zlib_ng import gzip_ng as _gzip
except ImportError:  # pragma: no cover
    _gzip = gzip


def _quality_thresholds() -> np.ndarray:
    """Cumulative probabilities of the bins Q2, Q12, Q23 along the read (3, READ_LEN)."""
    t = np.arange(READ_LEN) / (READ_LEN - 1)
    p = np.stack([0.001 + 0.004 * t ** 3, 0.004 + 0.02 * t ** 2, 0.02 + 0.04 * t])
    return np.cumsum(p, axis=0).astype(np.float32)  # rows: upper bounds of Q2, Q12, Q23


QUAL_CUM = _quality_thresholds()
# The same bounds on a 16-bit scale, plus the end of each bin's error share: (6, READ_LEN).
QUAL_U16 = np.rint(65536 * np.vstack([
    QUAL_CUM,
    QUAL_CUM[0] + ERROR_PROB[1] * (QUAL_CUM[1] - QUAL_CUM[0]),
    QUAL_CUM[1] + ERROR_PROB[2] * (QUAL_CUM[2] - QUAL_CUM[1]),
    QUAL_CUM[2] + ERROR_PROB[3] * (1 - QUAL_CUM[2]),
])).astype(np.uint16)


@dataclass
class Kept:
    """Reads kept in memory (tests): per read pair the molecule index, read 1/2 base codes
    (0-3 = ACGT, 4 = N) and the read length."""

    molecule: list = field(default_factory=list)
    r1: list = field(default_factory=list)
    r2: list = field(default_factory=list)
    length: list = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate(x) for x in (self.molecule, self.r1, self.r2, self.length))


def with_duplicates(rng: np.random.Generator, n_molecules: int, dup_rate: float) -> np.ndarray:
    """Molecule index of every read pair: each molecule once, plus PCR duplicates (a fraction
    ``dup_rate`` of all pairs) of molecules drawn at random, in random order."""
    n_dup = int(round(n_molecules * dup_rate / (1 - dup_rate)))
    rows = np.concatenate([np.arange(n_molecules), rng.integers(0, n_molecules, n_dup)])
    return rows[rng.permutation(len(rows))]


def _strand_codes(haps: np.ndarray, frags: Fragments, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Base codes read from the fragment's top strand start (fwd) and bottom strand start (rev,
    complemented), each (n, READ_LEN), and the read length min(L, READ_LEN)."""
    flat = haps.reshape(-1)
    s, L = frags.start[rows].astype(np.int32), frags.length[rows].astype(np.int32)
    base = (frags.hap[rows].astype(np.int32) * haps.shape[1] + s)[:, None]  # int32: genome < 1 Gb
    j = np.minimum(np.arange(READ_LEN, dtype=np.int32)[None, :], (L - 1)[:, None])
    fwd = flat[base + j]
    rev = 3 - flat[base + (L - 1)[:, None] - j]
    return fwd, rev, np.minimum(L, READ_LEN)


def _add_somatic(frags: Fragments, rows: np.ndarray, snvs: pd.DataFrame, fwd, rev, ell) -> None:
    """Put each SNV's alt allele into tumour fragments of its haplotype that carry it: a tumour
    copy of the haplotype carries it with probability ccf * multiplicity / cn_hap."""
    s, L = frags.start[rows], frags.length[rows]
    for snv in snvs.itertuples():
        q = snv.ccf * snv.multiplicity / snv.cn_hap
        hit = (frags.tumour[rows] & (frags.hap[rows] == snv.hap) & (s <= snv.pos)
               & (snv.pos < s + L) & (frags.u[rows] < q))
        i = np.flatnonzero(hit)
        jf, jr = snv.pos - s[i], s[i] + L[i] - 1 - snv.pos
        f, r = jf < ell[i], jr < ell[i]
        fwd[i[f], jf[f]] = snv.alt
        rev[i[r], jr[r]] = 3 - snv.alt


def _sequence(rng: np.random.Generator, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quality bins and sequencing errors for a block of reads: (bases, qualities) as ASCII.

    One uniform 16-bit number per base decides both: it falls in a bin's interval [lo, hi) and
    the base is wrong when it lies in the first ERROR_PROB[bin] share of that interval (cheaper
    than a second random matrix)."""
    u = rng.integers(0, 1 << 16, codes.shape, dtype=np.uint16)
    c1, c2, c3, e1, e2, e3 = QUAL_U16
    qbin = (u >= c1).view(np.uint8) + (u >= c2).view(np.uint8) + (u >= c3).view(np.uint8)
    err = ((u >= c3) & (u < e3)) | ((u >= c2) & (u < e2)) | ((u >= c1) & (u < e1))
    out = codes.copy()
    i = np.nonzero(err)
    out[i] = (out[i] + rng.integers(1, 4, len(i[0]), dtype=np.uint8)) % 4
    out[qbin == 0] = 4
    return np.take(LETTERS, out), np.take(QUAL_CHARS, qbin)


def _records(names: np.ndarray, seq: np.ndarray, qual: np.ndarray, ell: np.ndarray) -> bytes:
    """FASTQ text of reads grouped by length, each group one uint8 matrix."""
    out = []
    w = names.shape[1]
    for n in np.unique(ell):
        g = np.flatnonzero(ell == n)
        rec = np.empty((len(g), w + 2 * n + 6), dtype=np.uint8)
        rec[:, 0] = ord("@")
        rec[:, 1:w + 1] = names[g]
        rec[:, w + 1] = ord("\n")
        rec[:, w + 2:w + 2 + n] = seq[g, :n]
        rec[:, w + 2 + n:w + 5 + n] = np.frombuffer(b"\n+\n", dtype=np.uint8)
        rec[:, w + 5 + n:w + 5 + 2 * n] = qual[g, :n]
        rec[:, -1] = ord("\n")
        out.append(rec.tobytes())
    return b"".join(out)


def _names(prefix: str, first: int, n: int) -> np.ndarray:
    """Read names '<prefix>:<9-digit serial>' as an (n, width) uint8 matrix."""
    serial = np.arange(first, first + n, dtype=np.int64)
    digits = (serial[:, None] // 10 ** np.arange(8, -1, -1)) % 10 + ord("0")
    head = np.frombuffer(f"{prefix}:".encode(), dtype=np.uint8)
    return np.hstack([np.broadcast_to(head, (n, len(head))), digits.astype(np.uint8)])


@contextmanager
def _open_gz(path):
    """A gzip stream (level 1: speed over size) with mtime 0, so the same seed gives
    byte-identical files."""
    with open(path, "wb") as raw, _gzip.GzipFile(filename="", fileobj=raw, mode="wb",
                                                  compresslevel=1, mtime=0) as out:
        yield out


def write_fastq(rng: np.random.Generator, frags: Fragments, haps: np.ndarray, snvs: pd.DataFrame,
                rows: np.ndarray, prefix: str, path1, path2, keep: Kept | None = None) -> None:
    """Write the read pairs of molecules ``rows`` (duplicates repeated) to two gzipped FASTQs."""
    with _open_gz(path1) as out1, _open_gz(path2) as out2:
        for first in range(0, len(rows), CHUNK):
            part = rows[first:first + CHUNK]
            fwd, rev, ell = _strand_codes(haps, frags, part)
            _add_somatic(frags, part, snvs, fwd, rev, ell)
            flip = frags.reverse[part][:, None]
            c1, c2 = np.where(flip, rev, fwd), np.where(flip, fwd, rev)
            names = _names(prefix, first, len(part))
            for codes, out in ((c1, out1), (c2, out2)):
                seq, qual = _sequence(rng, codes)
                out.write(_records(names, seq, qual, ell))
                if keep is not None:
                    (keep.r1 if out is out1 else keep.r2).append(_codes(seq))
            if keep is not None:
                keep.molecule.append(part)
                keep.length.append(ell)


def _codes(seq: np.ndarray) -> np.ndarray:
    """ASCII bases back to codes 0-4 (for kept reads)."""
    lut = np.full(256, 4, dtype=np.uint8)
    lut[LETTERS[:4]] = np.arange(4)
    return lut[seq]


def pileup(frags: Fragments, kept: Kept, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed top-strand base codes (0-4) at sorted global ``sites`` in kept reads: returns
    (site index, base) per observation, one per read pair and site (where both mates cover a
    site, the mate that starts at the fragment's left end counts), as a pileup that merges
    overlapping mates would."""
    mol, r1, r2, ell = kept.arrays()
    s, L, rev = frags.start[mol], frags.length[mol], frags.reverse[mol][:, None]
    left, right = np.where(rev, r2, r1), np.where(rev, r1, r2)  # reads from each fragment end
    out_site, out_base = [], []
    for read, lo in ((left, s), (right, s + L - ell)):
        first = np.searchsorted(sites, lo)
        k = 0
        while True:
            idx = first + k
            ok = idx < len(sites)
            site = sites[np.minimum(idx, len(sites) - 1)]
            ok &= site < lo + ell
            if read is right:
                ok &= site >= s + ell  # covered by the left read already: counted there
            if not ok.any():
                break
            rows = np.flatnonzero(ok)
            if read is left:
                base = read[rows, site[rows] - s[rows]]
            else:
                raw = read[rows, s[rows] + L[rows] - 1 - site[rows]]
                base = np.where(raw < 4, 3 - raw, 4)
            out_site.append(idx[rows])
            out_base.append(base)
            k += 1
    if not out_site:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    return np.concatenate(out_site), np.concatenate(out_base)
