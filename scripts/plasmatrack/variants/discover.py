"""Candidate discovery on a patient's pooled plasma draws.

Every position of the regions (panel targets, or gene spans without a panel) is piled up in every
plasma draw with the same read filters as tracking (flags, mapping quality, base quality), reading
every alignment (no depth cap). The error rate of each substitution (ref base x alt
base) is estimated from the data itself: the pooled alt fraction over all positions where that alt
is below 1% (real variants are rare and excluded). A position's alt base becomes a candidate when
its count is improbable under that rate (binomial upper tail < ``max_p_value``, default 1e-6, a
Bonferroni-like bar for ~10^5 tests), with at least ``min_alt_fragments`` reads and ``min_vaf``,
either in the pool of all draws or in any single draw (so that a variant present only at
progression is not diluted away). Short insertions and deletions are collected from the CIGARs of
the same reads (anchor base quality filtered, each read name counted once), left-normalised, and
tested the same way against the data's indel rate.

Counts here are of reads; tracking then counts fragments exactly at each candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..config import settings_kwargs
from ..errors import InputError
from .cigar import INSERTION_EVENT, indel_events, query_position
from .pileup import ReadFilterSettings
from .sites import DELETION, INSERTION, SNV, Reference, left_normalize

BASES = "ACGT"
RATE_FLOOR = 1e-7
REAL_VARIANT_VAF = 0.01

CANDIDATE_COLUMNS = ["chrom", "pos", "ref", "alt", "variant_type", "pooled_alt", "pooled_depth",
                     "pooled_vaf", "best_draw", "best_draw_alt", "best_draw_depth", "discovery_p"]


@dataclass(frozen=True)
class DiscoverySettings:
    """Candidate discovery: ``variants.discovery`` in the config (``from_config`` takes
    ``variants``)."""

    max_p_value: float = 1e-6
    min_alt_fragments: int = 3
    min_vaf: float = 0.0005
    indels: bool = True
    max_indel_length: int = 50

    @classmethod
    def from_config(cls, variants_config: dict) -> "DiscoverySettings":
        return cls(**settings_kwargs(cls, variants_config.get("discovery"), "variants.discovery"))


def read_regions(bed: str | Path, reference: Reference) -> list[tuple[str, int, int]]:
    """Merged (chrom, start, end) intervals of a BED (0-based half-open), clipped to contigs."""
    intervals: dict[str, list[tuple[int, int]]] = {}
    with open(bed) as handle:
        for line in handle:
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            if chrom not in reference.lengths:
                raise InputError(f"{bed}: contig {chrom!r} is not in the reference")
            intervals.setdefault(chrom, []).append(
                (max(0, start), min(end, reference.lengths[chrom])))
    merged = []
    for chrom in reference.lengths:
        spans = sorted(intervals.get(chrom, []))
        current: list[int] | None = None
        for start, end in spans:
            if current and start <= current[1]:
                current[1] = max(current[1], end)
            else:
                if current:
                    merged.append((chrom, current[0], current[1]))
                current = [start, end]
        if current:
            merged.append((chrom, current[0], current[1]))
    return merged


_BASE_CODE = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate(BASES):
    _BASE_CODE[ord(_b)] = _i
    _BASE_CODE[ord(_b.lower())] = _i


def _scan(bam, regions, filters: ReadFilterSettings, reference: Reference, max_indel: int,
          want_indels: bool) -> tuple[np.ndarray, dict[tuple[str, int, str, str], set[str]]]:
    """One pass over the reads of the regions: A/C/G/T read counts per position (array 4 x
    concatenated region positions; bases below the base-quality filter not counted) and the
    normalised indel alleles (chrom, pos0, ref, alt) -> names of the reads showing them.

    Aligned blocks of all reads are gathered and counted with one ``np.bincount`` per region
    (pysam's ``count_coverage`` loops over aligned pairs per read and is ~20x slower)."""
    min_bq = filters.min_base_quality
    blocks_out = []
    events: dict[tuple[str, int, str, str], set[str]] = {}
    for chrom, start, end in regions:
        length = end - start
        counts = np.zeros(4 * length, dtype=np.int64)
        chunk = _Chunk()
        for read in bam.fetch(chrom, start, end):
            flag = read.flag
            if flag & filters.flag_filter or read.mapping_quality < filters.min_mapping_quality:
                continue
            if filters.require_proper_pair and not flag & 0x2:
                continue
            seq = read.query_sequence
            quals = read.query_qualities
            if seq is None or quals is None:
                continue
            read_start = read.reference_start
            cigarstring = read.cigarstring
            offset = chunk.size
            if cigarstring[-1] == "M" and cigarstring[:-1].isdigit():
                chunk.add_segment(offset, read_start, len(seq))
            else:
                cigar = read.cigartuples
                ref_pos, q = read_start, 0
                for op, n in cigar:
                    if op in (0, 7, 8):
                        chunk.add_segment(offset + q, ref_pos, n)
                        ref_pos += n
                        q += n
                    elif op in (1, 4):
                        q += n
                    elif op in (2, 3):
                        ref_pos += n
                if want_indels and ("I" in cigarstring or "D" in cigarstring):
                    _collect_indels(read, cigar, seq, quals, chrom, start, end, reference,
                                    max_indel, min_bq, events)
            chunk.add_read(seq, quals)
            if chunk.size >= _CHUNK_BASES:
                chunk.flush(counts, start, length, min_bq)
                chunk = _Chunk()
        chunk.flush(counts, start, length, min_bq)
        blocks_out.append(counts.reshape(4, length))
    acgt = np.concatenate(blocks_out, axis=1) if blocks_out else np.zeros((4, 0), dtype=np.int64)
    return acgt, events


# Bases gathered before counting: keeps the temporary arrays small (tens of MB).
_CHUNK_BASES = 2_000_000


class _Chunk:
    """Read bases and their aligned segments, counted together with one bincount."""

    __slots__ = ("seqs", "quals", "seg_query", "seg_ref", "seg_len", "size")

    def __init__(self) -> None:
        self.seqs: list[bytes] = []
        self.quals: list[bytes] = []
        self.seg_query: list[int] = []
        self.seg_ref: list[int] = []
        self.seg_len: list[int] = []
        self.size = 0

    def add_segment(self, query_offset: int, ref_start: int, n: int) -> None:
        self.seg_query.append(query_offset)
        self.seg_ref.append(ref_start)
        self.seg_len.append(n)

    def add_read(self, seq: str, quals) -> None:
        self.seqs.append(seq.encode())
        self.quals.append(quals.tobytes())
        self.size += len(seq)

    def flush(self, counts: np.ndarray, start: int, length: int, min_bq: int) -> None:
        if not self.seg_len:
            return
        bases = _BASE_CODE[np.frombuffer(b"".join(self.seqs), dtype=np.uint8)]
        quals = np.frombuffer(b"".join(self.quals), dtype=np.uint8)
        lens = np.asarray(self.seg_len, dtype=np.int64)
        first = np.repeat(np.cumsum(lens) - lens, lens)
        within = np.arange(int(lens.sum()), dtype=np.int64) - first
        qidx = np.repeat(np.asarray(self.seg_query, dtype=np.int64), lens) + within
        rel = np.repeat(np.asarray(self.seg_ref, dtype=np.int64) - start, lens) + within
        b = bases[qidx]
        keep = (rel >= 0) & (rel < length) & (quals[qidx] >= min_bq) & (b < 4)
        counts += np.bincount(b[keep] * length + rel[keep], minlength=4 * length)


def _collect_indels(read, cigar, seq, quals, chrom, start, end, reference: Reference,
                    max_len: int, min_bq: int, events: dict) -> None:
    for kind, anchor, length, qoff in indel_events(cigar, read.reference_start):
        if length > max_len or not (start <= anchor < end):
            continue
        if kind == INSERTION_EVENT:
            qpos = qoff - 1
        else:
            qpos = query_position(cigar, read.reference_start, anchor)
        if qpos < 0 or quals[qpos] < min_bq:
            continue
        anchor_base = reference.base(chrom, anchor)
        if kind == INSERTION_EVENT:
            ref, alt = anchor_base, anchor_base + seq[qoff:qoff + length]
        else:
            ref, alt = reference.fetch(chrom, anchor, anchor + length + 1), anchor_base
        if set(alt) - set(BASES) or set(ref) - set(BASES):
            continue
        pos0, ref, alt = left_normalize(reference, chrom, anchor, ref, alt)
        events.setdefault((chrom, pos0, ref, alt), set()).add(read.query_name)


def _test(alt: np.ndarray, depth: np.ndarray, rate: np.ndarray) -> np.ndarray:
    p = np.ones(alt.shape)
    ok = (alt > 0) & (depth > 0)
    p[ok] = stats.binom.sf(alt[ok] - 1, depth[ok], rate[ok])
    return p


def discover(plasma_bams: list[str | Path], regions: list[tuple[str, int, int]],
             reference: Reference, filters: ReadFilterSettings | None = None,
             params: DiscoverySettings | None = None, draw_names: list[str] | None = None
             ) -> pd.DataFrame:
    """Candidate SNVs and indels of one patient from its plasma draws (see module docstring).
    Returns CANDIDATE_COLUMNS, positions 1-based, sorted by region order then position."""
    filters = filters or ReadFilterSettings()
    params = params or DiscoverySettings()
    draw_names = draw_names or [Path(b).name for b in plasma_bams]
    if not regions or not plasma_bams:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    positions = np.concatenate([np.arange(s, e) for _, s, e in regions])
    chroms = np.concatenate([np.full(e - s, c, dtype=object) for c, s, e in regions])
    ref_seq = "".join(reference.fetch(c, s, e) for c, s, e in regions)
    ref_idx = np.array([BASES.find(b) for b in ref_seq], dtype=np.int64)
    counts, indel_draws = _scan_draws(plasma_bams, regions, filters, reference, params)
    rows = [{"chrom": chroms[i], "pos": int(positions[i]) + 1, "ref": ref_seq[i], **hit}
            for i, hit in _snv_candidates(counts, ref_idx, params, draw_names)]
    if params.indels:
        rows.extend(_indel_candidates(indel_draws, regions, positions, counts.sum(axis=1),
                                      params, draw_names))
    if not rows:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    out = pd.DataFrame(rows).sort_values(["_order", "pos", "ref", "alt"], kind="mergesort")
    return out[CANDIDATE_COLUMNS].reset_index(drop=True)


def _scan_draws(plasma_bams: list[str | Path], regions, filters: ReadFilterSettings,
                reference: Reference, params: DiscoverySettings
                ) -> tuple[np.ndarray, list[dict[tuple[str, int, str, str], set[str]]]]:
    """A/C/G/T read counts (draws x 4 x region positions) and the indel alleles of each draw."""
    import pysam

    per_draw = []
    indel_draws = []
    for bam_path in plasma_bams:
        try:
            bam = pysam.AlignmentFile(str(bam_path), "rb")
        except (OSError, ValueError) as exc:
            raise InputError(f"{bam_path}: cannot open as an indexed BAM ({exc})") from None
        with bam:
            acgt, indels = _scan(bam, regions, filters, reference, params.max_indel_length,
                                 params.indels)
            per_draw.append(acgt)
            indel_draws.append(indels)
    return np.stack(per_draw), indel_draws


def _substitution_rates(pooled: np.ndarray, pooled_depth: np.ndarray, pooled_vaf: np.ndarray,
                        ref_idx: np.ndarray) -> np.ndarray:
    """Error rate per (ref base, alt base), 4 x 4, from the pooled counts at positions where
    that alt is not a real variant (pooled VAF below REAL_VARIANT_VAF); RATE_FLOOR at least."""
    rates = np.full((4, 4), RATE_FLOOR)
    valid = ref_idx >= 0
    for r in range(4):
        at_r = valid & (ref_idx == r)
        for a in range(4):
            if a == r:
                continue
            use = at_r & (pooled_vaf[a] < REAL_VARIANT_VAF)
            d = pooled_depth[use].sum()
            if d > 0:
                rates[r, a] = max(pooled[a, use].sum() / d, RATE_FLOOR)
    return rates


def _snv_candidates(counts: np.ndarray, ref_idx: np.ndarray, params: DiscoverySettings,
                    draw_names: list[str]) -> list[tuple[int, dict]]:
    """(position index, candidate fields after chrom/pos/ref) of every SNV that passes the test
    in the pool of all draws or in any single draw; ``_order`` keeps the region order."""
    depth = counts.sum(axis=1)  # draws x positions
    pooled = counts.sum(axis=0)
    pooled_depth = pooled.sum(axis=0)
    valid = ref_idx >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled_vaf = np.where(pooled_depth > 0, pooled / pooled_depth, 0.0)
    rates = _substitution_rates(pooled, pooled_depth, pooled_vaf, ref_idx)
    hits = []
    for a in range(4):
        is_alt = valid & (ref_idx != a)
        rate = np.where(is_alt, rates[np.clip(ref_idx, 0, 3), a], 1.0)
        p_pool = _test(pooled[a], pooled_depth, rate)
        hit = is_alt & (p_pool < params.max_p_value) & (pooled[a] >= params.min_alt_fragments) & (
            pooled_vaf[a] >= params.min_vaf)
        p_best = p_pool.copy()
        for d in range(len(counts)):
            alt_d = counts[d, a]
            dep_d = depth[d]
            p_d = _test(alt_d, dep_d, rate)
            with np.errstate(divide="ignore", invalid="ignore"):
                vaf_d = np.where(dep_d > 0, alt_d / dep_d, 0.0)
            hit |= is_alt & (p_d < params.max_p_value) & (alt_d >= params.min_alt_fragments) & (
                vaf_d >= params.min_vaf)
            p_best = np.minimum(p_best, p_d)
        for i in np.flatnonzero(hit):
            with np.errstate(divide="ignore", invalid="ignore"):
                draw_vaf = counts[:, a, i] / np.maximum(depth[:, i], 1)
            best = int(np.argmax(draw_vaf))
            hits.append((i, {"alt": BASES[a], "variant_type": SNV,
                             "pooled_alt": int(pooled[a, i]),
                             "pooled_depth": int(pooled_depth[i]),
                             "pooled_vaf": pooled_vaf[a, i], "best_draw": draw_names[best],
                             "best_draw_alt": int(counts[best, a, i]),
                             "best_draw_depth": int(depth[best, i]), "discovery_p": p_best[i],
                             "_order": i}))
    return hits


def _indel_candidates(indel_draws, regions, positions, depth, params: DiscoverySettings,
                      draw_names) -> list[dict]:
    offsets = {}
    base = 0
    for chrom, start, end in regions:
        offsets[chrom] = offsets.get(chrom, []) + [(start, end, base)]
        base += end - start

    def index_of(chrom: str, pos0: int) -> int | None:
        for start, end, off in offsets.get(chrom, []):
            if start <= pos0 < end:
                return off + pos0 - start
        return None

    keys = sorted(set().union(*[set(d) for d in indel_draws]))
    if not keys:
        return []
    idx = [index_of(k[0], k[1]) for k in keys]
    alt = np.array([[len(d.get(k, ())) for k in keys] for d in indel_draws], dtype=float)
    dep = np.array([[depth[j, i] if i is not None else 0 for i in idx]
                    for j in range(len(indel_draws))], dtype=float)
    dep = np.maximum(dep, alt)
    total_depth = depth.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled_vaf = alt.sum(axis=0) / np.maximum(dep.sum(axis=0), 1)
    background = alt.sum(axis=0)[pooled_vaf < REAL_VARIANT_VAF].sum()
    rate = max(background / total_depth, RATE_FLOOR) if total_depth > 0 else RATE_FLOOR
    rows = []
    p_pool = _test(alt.sum(axis=0), dep.sum(axis=0), np.full(len(keys), rate))
    hit = (p_pool < params.max_p_value) & (alt.sum(axis=0) >= params.min_alt_fragments) & (
        pooled_vaf >= params.min_vaf)
    p_best = p_pool.copy()
    for j in range(len(indel_draws)):
        p_d = _test(alt[j], dep[j], np.full(len(keys), rate))
        with np.errstate(divide="ignore", invalid="ignore"):
            vaf_d = np.where(dep[j] > 0, alt[j] / dep[j], 0.0)
        hit |= (p_d < params.max_p_value) & (alt[j] >= params.min_alt_fragments) & (
            vaf_d >= params.min_vaf)
        p_best = np.minimum(p_best, p_d)
    for n in np.flatnonzero(hit):
        chrom, pos0, ref, alt_allele = keys[n]
        vafs = alt[:, n] / np.maximum(dep[:, n], 1)
        best = int(np.argmax(vafs))
        rows.append({"chrom": chrom, "pos": pos0 + 1, "ref": ref, "alt": alt_allele,
                     "variant_type": INSERTION if len(alt_allele) > len(ref) else DELETION,
                     "pooled_alt": int(alt[:, n].sum()), "pooled_depth": int(dep[:, n].sum()),
                     "pooled_vaf": float(pooled_vaf[n]), "best_draw": draw_names[best],
                     "best_draw_alt": int(alt[best, n]), "best_draw_depth": int(dep[best, n]),
                     "discovery_p": float(p_best[n]),
                     "_order": idx[n] if idx[n] is not None else len(positions)})
    return rows
