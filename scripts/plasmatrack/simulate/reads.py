"""Paired-end reads of one simulated sample, vectorised with numpy.

Model, per sample:
- Molecules come from two pools: captured (fragments overlapping a capture target, kept with the
  target's fixed efficiency) and off-target (genome-wide). Their proportion is the sample's
  on-target fraction.
- Copy-number-aware mixing: tumour fragments start at a density proportional to
  ``TF * CN(x) / mean_tumour_length`` and normal ones to ``2 * (1 - TF) / mean_normal_length``,
  so the *coverage* of any base by tumour DNA is proportional to ``TF * CN`` and by normal DNA to
  ``2 * (1 - TF)`` whatever the fragment lengths: a fragment covering a base is tumour-derived with
  probability ``TF*CN / (TF*CN + 2*(1-TF))``, which makes the truth VAF formula exact.
- Fragment lengths: cfDNA (mode 167 bp, 10.4 bp periodicity below it, a dinucleosome peak) for
  normal plasma DNA, the same shifted ~15 bp shorter for tumour DNA, sheared genomic DNA (broad,
  mode ~260 bp) for buffy-coat normals.
- GC bias: each fragment is kept with a probability given by a per-sample Gaussian of its GC.
- Alleles: at each variant a fragment carries the alt allele with probability
  ``CCF*m/CN`` (tumour) or ``normal_alt_copies/2`` (normal); indels change the fragment sequence.
- PCR duplicates: exact copies (same fragment, same allele) of unique molecules chosen with an
  overdispersed family propensity; sequencing errors are drawn independently per copy.
- Reads: 2 x 100 bp from the two fragment ends (adapter read-through when shorter), base
  qualities falling along the read, errors drawn with the probability their quality states,
  and systematic errors at the noisy sites.

Coordinates: global 0-based positions on the concatenated genome (``Genome.offsets``)."""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass

import numpy as np

from . import umi
from .genome import ADAPTER_R1, ADAPTER_R2, COMPLEMENT, TARGET_MARGIN, Genome

READ_LENGTH = 100
L_MIN, L_MAX = 40, 700
LENGTHS = np.arange(L_MIN, L_MAX + 1)
CHUNK = 40_000
_TO_INDEX = np.zeros(256, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _TO_INDEX[_b] = _i
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_AD1 = np.frombuffer(ADAPTER_R1, dtype=np.uint8)
_AD2 = np.frombuffer(ADAPTER_R2, dtype=np.uint8)


def _gauss(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sd) ** 2)


@functools.lru_cache(maxsize=None)
def _cached(kind: str, tumour: bool) -> np.ndarray:
    pmf = _cfdna_pmf(tumour) if kind == "cfdna" else _sheared_pmf()
    pmf.setflags(write=False)
    return pmf


def cfdna_pmf(tumour: bool) -> np.ndarray:
    """Fragment-length probabilities over ``LENGTHS`` for plasma cfDNA (read-only array)."""
    return _cached("cfdna", bool(tumour))


def sheared_pmf() -> np.ndarray:
    """Fragment-length probabilities over ``LENGTHS`` of sheared buffy-coat DNA (read-only)."""
    return _cached("sheared", False)


def _cfdna_pmf(tumour: bool) -> np.ndarray:
    """Fragment-length probabilities over ``LENGTHS`` for plasma cfDNA: a mononucleosome peak at
    167 bp (152 bp for tumour DNA), a 10.4 bp ladder of shorter fragments (stronger for tumour),
    a right tail and a dinucleosome peak."""
    x = LENGTHS.astype(float)
    peak = 152.0 if tumour else 167.0
    main = _gauss(x, peak, 8.0 if tumour else 7.0)
    below = np.clip((x - 70) / (peak - 70), 0, 1) ** 2 * (x < peak - 6)
    ladder = below * (0.5 + 0.5 * np.cos(2 * np.pi * (x - peak) / 10.4)) * _gauss(x, peak, 35)
    # a right shoulder rising from zero at the peak, so that the mode stays at the peak
    over = np.clip(x - peak, 0, None)
    tail = (1 - np.exp(-over / 10.0)) * np.exp(-over / 45.0)
    di = _gauss(x, 2 * peak + 10, 25.0)
    pmf = main + (0.7 if tumour else 0.35) * ladder + 0.04 * tail + 0.012 * di
    return pmf / pmf.sum()


def _sheared_pmf() -> np.ndarray:
    """Buffy-coat genomic DNA sheared for library preparation: gamma-shaped, mode ~260 bp."""
    x = LENGTHS.astype(float)
    shape, scale = 10.0, 29.0
    pmf = np.exp((shape - 1) * np.log(x) - x / scale)
    pmf *= x >= 80
    return pmf / pmf.sum()


CAPTURE_MIN_OVERLAP, CAPTURE_FULL_OVERLAP = 20, 60
# Variants sit TARGET_MARGIN bp inside their target, where every fragment covering them is
# captured whatever its length, so that capture does not favour long (normal) fragments there.
assert CAPTURE_FULL_OVERLAP <= TARGET_MARGIN


def capture_probability(overlap: np.ndarray) -> np.ndarray:
    """Bait hybridisation: a fragment is captured with probability rising linearly from 0 at
    20 bp of overlap with the target to 1 at 60 bp."""
    return np.clip((overlap - CAPTURE_MIN_OVERLAP) / (CAPTURE_FULL_OVERLAP - CAPTURE_MIN_OVERLAP),
                   0.0, 1.0)


def pmf_mode(pmf: np.ndarray) -> int:
    return int(LENGTHS[int(np.argmax(pmf))])


@dataclass
class SampleInput:
    """Everything reads.simulate_sample needs, in global coordinates (plain arrays, picklable)."""

    sample_id: str
    sample_type: str
    tumour_fraction: float
    read_pairs: int
    duplicate_rate: float
    on_target_fraction: float
    gc_centre: float
    gc_width: float
    seg_start: np.ndarray  # global, tumour CN segments covering the genome
    seg_end: np.ndarray
    seg_cn: np.ndarray
    var_pos: np.ndarray  # global 0-based position of the first REF base
    var_ref: list[str]
    var_alt: list[str]
    p_tumour: np.ndarray  # probability that a tumour fragment carries the alt allele
    p_normal: np.ndarray  # same for a normal fragment
    seed: list[int]
    umi: umi.UmiSimSettings | None = None  # a UMI library (simulate/umi.py) instead of duplicates


def _sample_lengths(rng, pmf_cdf: np.ndarray, n: int) -> np.ndarray:
    return LENGTHS[np.searchsorted(pmf_cdf, rng.random(n) * pmf_cdf[-1])].astype(np.int64)


class _Sampler:
    def __init__(self, genome: Genome, inp: SampleInput, rng: np.random.Generator):
        self.g = genome
        self.inp = inp
        self.rng = rng
        self.contig_ends = genome.contig_ends()
        normal_pmf = sheared_pmf() if inp.sample_type == "normal" else cfdna_pmf(False)
        tumour_pmf = cfdna_pmf(True)
        self.cdf = [np.cumsum(normal_pmf), np.cumsum(tumour_pmf)]
        self.mean = [float((LENGTHS * normal_pmf).sum()), float((LENGTHS * tumour_pmf).sum())]
        # the longest fragment start window that matters (99.9th percentile length)
        self.window = [int(LENGTHS[np.searchsorted(c, 0.999)]) for c in self.cdf]
        tf = inp.tumour_fraction
        self.tf = tf

    def _gc_keep(self, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        gc = (self.g.gc_cum[start + length] - self.g.gc_cum[start]) / length
        keep_p = np.exp(-0.5 * ((gc - self.inp.gc_centre) / self.inp.gc_width) ** 2)
        return self.rng.random(start.size) < keep_p

    def _in_contig(self, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.contig_ends, start, side="right")
        ok = idx < self.contig_ends.size
        ends = self.contig_ends[np.minimum(idx, self.contig_ends.size - 1)]
        return ok & (start + length <= ends)

    def _lengths_for(self, source: np.ndarray) -> np.ndarray:
        out = np.empty(source.size, dtype=np.int64)
        for s in (0, 1):
            sel = source == s
            out[sel] = _sample_lengths(self.rng, self.cdf[s], int(sel.sum()))
        return out

    def off_target(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inp, tf = self.inp, self.tf
        seg_len = (inp.seg_end - inp.seg_start).astype(float)
        w_t = seg_len * inp.seg_cn
        mass_t = tf * w_t.sum() / self.mean[1]
        mass_n = 2 * (1 - tf) * self.g.size / self.mean[0]
        p_t = mass_t / (mass_t + mass_n)
        seg_cdf = np.cumsum(w_t)
        starts, lengths, sources = [], [], []
        got = 0
        while got < n:
            m = int((n - got) * 1.5) + 256
            src = (self.rng.random(m) < p_t).astype(np.int8)
            pos = np.floor(self.rng.random(m) * self.g.size).astype(np.int64)
            nt = int(src.sum())
            if nt:
                seg = np.searchsorted(seg_cdf, self.rng.random(nt) * seg_cdf[-1], side="right")
                pos[src == 1] = inp.seg_start[seg] + np.floor(
                    self.rng.random(nt) * seg_len[seg]).astype(np.int64)
            length = self._lengths_for(src)
            ok = self._in_contig(pos, length)
            pos, length, src = pos[ok], length[ok], src[ok]
            keep = self._gc_keep(pos, length)
            starts.append(pos[keep])
            lengths.append(length[keep])
            sources.append(src[keep])
            got += int(keep.sum())
        return (np.concatenate(starts)[:n], np.concatenate(lengths)[:n],
                np.concatenate(sources)[:n])

    def on_target(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inp, tf, g = self.inp, self.tf, self.g
        t = g.targets
        t_start = g.global_pos(t["chrom"], t["start"].to_numpy())
        t_end = g.global_pos(t["chrom"], t["end"].to_numpy())
        t_len = (t_end - t_start).astype(float)
        mid = (t_start + t_end) // 2
        cn = inp.seg_cn[np.searchsorted(inp.seg_end, mid, side="right")].astype(float)
        eff = t["efficiency"].to_numpy(dtype=float)
        w = np.concatenate([
            eff * (t_len + self.window[0]) * 2 * (1 - tf) / self.mean[0],
            eff * (t_len + self.window[1]) * tf * cn / self.mean[1],
        ])
        cdf = np.cumsum(w)
        k_n = len(t)
        starts, lengths, sources = [], [], []
        got = 0
        while got < n:
            m = int((n - got) * 2.5) + 256
            pick = np.searchsorted(cdf, self.rng.random(m) * cdf[-1], side="right")
            src = (pick >= k_n).astype(np.int8)
            k = pick % k_n
            win = np.where(src == 1, self.window[1], self.window[0])
            pos = t_start[k] - win + np.floor(self.rng.random(m) * (t_len[k] + win)).astype(
                np.int64)
            length = self._lengths_for(src)
            overlap = np.minimum(pos + length, t_end[k]) - np.maximum(pos, t_start[k])
            ok = (self.rng.random(m) < capture_probability(overlap)) & self._in_contig(pos, length)
            pos, length, src = pos[ok], length[ok], src[ok]
            keep = self._gc_keep(pos, length)
            starts.append(pos[keep])
            lengths.append(length[keep])
            sources.append(src[keep])
            got += int(keep.sum())
        return (np.concatenate(starts)[:n], np.concatenate(lengths)[:n],
                np.concatenate(sources)[:n])


def _fastq_records(name_prefix: bytes, ids: np.ndarray, seqs: np.ndarray, quals: np.ndarray,
                   suffix: np.ndarray | None = None) -> bytes:
    """FASTQ text for reads of equal length, built as one byte matrix (fixed-width names;
    ``suffix``: an (n, w) byte matrix appended to the names, e.g. ``:UMI``)."""
    n, rl = seqs.shape
    digits = 10
    head = len(name_prefix) + 1
    tail = 0 if suffix is None else suffix.shape[1]
    width = head + digits + tail + 1 + rl + 3 + rl + 1
    rec = np.empty((n, width), dtype=np.uint8)
    rec[:, 0] = ord("@")
    rec[:, 1:head] = np.frombuffer(name_prefix, dtype=np.uint8)
    powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    rec[:, head:head + digits] = (ids[:, None] // powers % 10 + 48).astype(np.uint8)
    p = head + digits
    if suffix is not None:
        rec[:, p:p + tail] = suffix
        p += tail
    rec[:, p] = ord("\n")
    rec[:, p + 1:p + 1 + rl] = seqs
    p += 1 + rl
    rec[:, p:p + 3] = np.frombuffer(b"\n+\n", dtype=np.uint8)
    rec[:, p + 3:p + 3 + rl] = quals
    rec[:, -1] = ord("\n")
    return rec.tobytes()


_QUAL_MEAN = [np.rint(38.0 - 12.0 * (np.arange(READ_LENGTH) / (READ_LENGTH - 1)) ** 2
                      - 2.0 * mate).astype(np.int16) for mate in (0, 1)]
_ERROR_PROB = (10.0 ** (-np.arange(64) / 10.0)).astype(np.float32)


def _qualities(rng: np.random.Generator, n: int, mate: int) -> np.ndarray:
    """Phred qualities falling along the read (read 2 a little worse) with +/-4 jitter and
    occasional dips to Q5-15."""
    q = _QUAL_MEAN[mate][None, :] + rng.integers(-4, 5, (n, READ_LENGTH), dtype=np.int16)
    dips = rng.random((n, READ_LENGTH), dtype=np.float32) < 0.01
    q[dips] = rng.integers(5, 16, int(dips.sum()), dtype=np.int16)
    return np.clip(q, 2, 41).astype(np.uint8)


def _add_errors(rng: np.random.Generator, seqs: np.ndarray, quals: np.ndarray) -> None:
    """Substitute each base with the probability its quality states (10^(-Q/10))."""
    hit = rng.random(seqs.shape, dtype=np.float32) < _ERROR_PROB[quals]
    if hit.any():
        old = _TO_INDEX[seqs[hit]]
        seqs[hit] = _BASES[(old + rng.integers(1, 4, old.size)) % 4]


def simulate_sample(genome: Genome, inp: SampleInput, noisy: tuple[np.ndarray, np.ndarray,
                    np.ndarray], r1_path, r2_path, umi_truth: str | None = None) -> dict:
    """Simulate one sample's read pairs into gzipped FASTQs (deterministic for ``inp.seed``).

    ``noisy``: (global positions, alt bases as ASCII codes, per-read error rates). Returns the
    realised statistics (read pairs, duplicate rate, fragment mode, on-target depth, ...).
    With ``inp.umi``: PCR families of a UMI library replace the duplicates, the UMI ends the read
    names, the truth tables go to ``umi_truth + ".reads.tsv.gz"`` / ``".molecules.tsv.gz"`` and
    the statistics hold the sample's ``umi`` summary row."""
    rng = np.random.default_rng(inp.seed)
    sampler = _Sampler(genome, inp, rng)
    n_total = int(inp.read_pairs)
    if inp.umi is None:
        n_dup = int(round(n_total * inp.duplicate_rate))
        n_uniq = n_total - n_dup
    else:
        n_uniq = umi.molecules_for(inp.umi, n_total)
    n_on = int(round(n_uniq * inp.on_target_fraction))
    on = sampler.on_target(n_on)
    off = sampler.off_target(n_uniq - n_on)
    start = np.concatenate([on[0], off[0]])
    length = np.concatenate([on[1], off[1]])
    source = np.concatenate([on[2], off[2]])
    order = np.argsort(start, kind="stable")
    start, length, source = start[order], length[order], source[order]
    end = start + length

    hit_mol_a, hit_pos_a, hit_base_a, indel_of = _molecule_alleles(rng, inp, start, end,
                                                                 source)

    plan = None
    if inp.umi is None:
        mol, strand = _duplicates(rng, n_uniq, n_dup)
    else:
        # a stream of its own, so that the molecules are those of the same seed without UMIs
        plan = umi.plan_reads(np.random.default_rng(inp.seed + [0x0511]), inp.umi, n_total,
                              length)
        mol, strand = plan.molecule, None  # the read's strand is plan.flip
        n_dup = n_total - np.unique(mol).size

    seq = genome.seq
    j = np.arange(READ_LENGTH)
    noisy_pos, noisy_alt, noisy_rate = noisy
    prefix = inp.sample_id.encode() + b":"
    with open(r1_path, "wb") as f1, open(r2_path, "wb") as f2, \
            gzip.GzipFile(filename="", mode="wb", fileobj=f1, compresslevel=1, mtime=0) as z1, \
            gzip.GzipFile(filename="", mode="wb", fileobj=f2, compresslevel=1, mtime=0) as z2:
        for c0 in range(0, n_total, CHUNK):
            m = mol[c0:c0 + CHUNK]
            n = m.size
            s, e, ln = start[m], end[m], length[m]
            covered = np.minimum(ln, READ_LENGTH)
            inside = j[None, :] < covered[:, None]
            ad_idx = np.clip(j[None, :] - ln[:, None], 0, _AD1.size - 1)
            top = np.where(inside, seq[np.minimum(s[:, None] + j[None, :], seq.size - 1)],
                           _AD1[ad_idx])
            bot = np.where(inside, COMPLEMENT[seq[np.maximum(e[:, None] - 1 - j[None, :], 0)]],
                           _AD2[ad_idx])
            # SNV alleles of the molecules in this chunk
            lo = np.searchsorted(hit_mol_a, m, side="left")
            hi = np.searchsorted(hit_mol_a, m, side="right")
            cnt = hi - lo
            if cnt.any():
                rows = np.repeat(np.arange(n), cnt)
                idx = np.concatenate([np.arange(a, b) for a, b in zip(lo[cnt > 0], hi[cnt > 0])])
                gpos, base = hit_pos_a[idx], hit_base_a[idx]
                jt = gpos - s[rows]
                ok = jt < covered[rows]
                top[rows[ok], jt[ok]] = base[ok]
                jb = e[rows] - 1 - gpos
                ok = jb < covered[rows]
                bot[rows[ok], jb[ok]] = COMPLEMENT[base[ok]]
            # indel-carrying molecules: rebuild their reads from the edited fragment
            if indel_of:
                for r in np.flatnonzero(np.isin(m, list(indel_of))).tolist():
                    v = indel_of[int(m[r])]
                    frag = _edited_fragment(seq, int(s[r]), int(e[r]), int(inp.var_pos[v]),
                                            inp.var_ref[v], inp.var_alt[v])
                    top[r], bot[r] = _reads_of(frag)
            if plan is not None:
                amplified = umi.apply_pcr_errors(plan, c0, top, bot, ln, covered, inside,
                                                 COMPLEMENT)
            # systematic errors at noisy sites, independently in every read
            for gpos, alt, rate in zip(noisy_pos.tolist(), noisy_alt.tolist(),
                                       noisy_rate.tolist()):
                jt = gpos - s
                sel = np.flatnonzero((jt >= 0) & (jt < covered) & (rng.random(n) < rate))
                top[sel, jt[sel]] = alt
                jb = e - 1 - gpos
                sel = np.flatnonzero((jb >= 0) & (jb < covered) & (rng.random(n) < rate))
                bot[sel, jb[sel]] = COMPLEMENT[alt]
            # read 1 is the top strand read for strand 0, the bottom one for strand 1
            flip = strand[m] == 1 if plan is None else plan.flip[c0:c0 + n] == 1
            r1 = np.where(flip[:, None], bot, top).astype(np.uint8)
            r2 = np.where(flip[:, None], top, bot).astype(np.uint8)
            q1, q2 = _qualities(rng, n, 0), _qualities(rng, n, 1)
            _add_errors(rng, r1, q1)
            _add_errors(rng, r2, q2)
            ids = np.arange(c0, c0 + n, dtype=np.int64)
            suffix = None
            if plan is not None:
                umi.count_seq_errors(plan, c0, inside, amplified, r1, r2, flip)
                suffix = umi.name_suffix(plan, c0, n)
            z1.write(_fastq_records(prefix, ids, r1, q1 + 33, suffix))
            z2.write(_fastq_records(prefix, ids, r2, q2 + 33, suffix))

    stats = _stats(genome, inp, start, end, length, source, strand, mol, n_dup)
    if plan is not None:
        stats["umi"] = umi.write_truth(plan, inp.umi, genome, inp.sample_id,
                                       (start, end, source), umi_truth)
    return stats


def _molecule_alleles(rng: np.random.Generator, inp: SampleInput, start: np.ndarray,
                      end: np.ndarray, source: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
    """Alleles of the unique molecules at each variant: SNV carriers as (molecule, global
    position, alt base code) arrays sorted by molecule, and indel carriers as molecule ->
    variant index."""
    hit_mol, hit_pos, hit_base = [], [], []
    indel_of: dict[int, int] = {}
    for v in range(inp.var_pos.size):
        g = int(inp.var_pos[v])
        ref, alt = inp.var_ref[v], inp.var_alt[v]
        lo = np.searchsorted(start, g - L_MAX - 10)
        hi = np.searchsorted(start, g, side="right")
        cand = np.arange(lo, hi)
        cand = cand[end[cand] >= g + len(ref)]
        p = np.where(source[cand] == 1, inp.p_tumour[v], inp.p_normal[v])
        carriers = cand[rng.random(cand.size) < p]
        if len(ref) == 1 and len(alt) == 1:
            hit_mol.append(carriers)
            hit_pos.append(np.full(carriers.size, g, dtype=np.int64))
            hit_base.append(np.full(carriers.size, ord(alt), dtype=np.uint8))
        else:
            for c in carriers.tolist():
                indel_of.setdefault(c, v)
    hit_mol_a = np.concatenate(hit_mol) if hit_mol else np.zeros(0, dtype=np.int64)
    hit_pos_a = np.concatenate(hit_pos) if hit_pos else np.zeros(0, dtype=np.int64)
    hit_base_a = np.concatenate(hit_base) if hit_base else np.zeros(0, dtype=np.uint8)
    srt = np.argsort(hit_mol_a, kind="stable")
    hit_mol_a, hit_pos_a, hit_base_a = hit_mol_a[srt], hit_pos_a[srt], hit_base_a[srt]
    return hit_mol_a, hit_pos_a, hit_base_a, indel_of


def _duplicates(rng: np.random.Generator, n_uniq: int, n_dup: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Read pairs as unique molecules plus ``n_dup`` PCR duplicates (copies chosen with an
    overdispersed family propensity), shuffled: (molecule of each read pair, strand of each
    molecule, 1 = read 1 from the bottom strand)."""
    propensity = rng.gamma(0.5, size=n_uniq)
    dup_src = rng.choice(n_uniq, size=n_dup, p=propensity / propensity.sum()) if n_dup else \
        np.zeros(0, dtype=np.int64)
    mol = np.concatenate([np.arange(n_uniq), dup_src])
    mol = mol[rng.permutation(mol.size)]
    strand = rng.integers(0, 2, n_uniq).astype(np.int8)
    return mol, strand


def _edited_fragment(seq: np.ndarray, s: int, e: int, g: int, ref: str, alt: str) -> np.ndarray:
    frag = seq[s:e]
    a = g - s
    return np.concatenate([frag[:a], np.frombuffer(alt.encode(), dtype=np.uint8),
                           frag[a + len(ref):]])


def _reads_of(frag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = frag.size
    top = np.empty(READ_LENGTH, dtype=np.uint8)
    bot = np.empty(READ_LENGTH, dtype=np.uint8)
    k = min(n, READ_LENGTH)
    top[:k] = frag[:k]
    top[k:] = _AD1[:READ_LENGTH - k]
    bot[:k] = COMPLEMENT[frag[::-1][:k]]
    bot[k:] = _AD2[:READ_LENGTH - k]
    return top, bot


def _stats(genome: Genome, inp: SampleInput, start, end, length, source, strand, mol,
           n_dup: int) -> dict:
    """Realised figures of the simulated library (unique molecules unless stated)."""
    n_total = mol.size
    counts = np.bincount(length - L_MIN, minlength=LENGTHS.size)
    mode = int(LENGTHS[int(np.argmax(counts))])
    # exact-position duplicates as samtools markdup sees them: the same two fragment ends,
    # whichever mate is read 1 (checked: equal to markdup's duplicate fraction)
    key = start[mol] * 1024 + length[mol]
    n_positions = np.unique(key).size
    # unique-fragment depth over target bases: the union of the two read spans of a fragment
    t = genome.targets
    t_start = genome.global_pos(t["chrom"], t["start"].to_numpy())
    t_end = genome.global_pos(t["chrom"], t["end"].to_numpy())
    depths = []
    on = np.zeros(start.size, dtype=bool)
    for a, b in zip(t_start.tolist(), t_end.tolist()):
        lo = np.searchsorted(start, a - L_MAX)
        hi = np.searchsorted(start, b)
        s, e, ln = start[lo:hi], end[lo:hi], length[lo:hi]
        over = e > a
        on[lo:hi] |= over
        diff = np.zeros(b - a + 1, dtype=np.int64)
        for seg_s, seg_e in (
                (s, np.minimum(s + READ_LENGTH, e)),
                (np.maximum(e - READ_LENGTH, np.minimum(s + READ_LENGTH, e)), e)):
            cs = np.clip(seg_s - a, 0, b - a)
            ce = np.clip(seg_e - a, 0, b - a)
            np.add.at(diff, cs, 1)
            np.add.at(diff, ce, -1)
        depths.append(np.cumsum(diff)[:-1])
    depth = np.concatenate(depths)
    return dict(
        read_pairs=int(n_total),
        duplicate_rate=n_dup / n_total if n_total else 0.0,
        position_duplicate_rate=1 - n_positions / n_total if n_total else 0.0,
        tumour_fragment_fraction=float(source.mean()) if source.size else 0.0,
        fragment_mode=mode,
        fragment_median=float(np.median(length)),
        on_target_fraction=float(on.mean()),
        median_on_target_depth=float(np.median(depth)),
    )
