"""Fragment-level allele counting at variant sites.

Every read filter is explicit and comes from the config (``ReadFilterSettings``): SAM flag bits,
mapping quality, base quality (the anchor base for indels), and optionally proper pairs only.
Counting is read-centric: the reads of a window of nearby sites are fetched once and each read is
matched to the sites it covers by walking its CIGAR. Nothing caps the depth, so deep ctDNA
columns are never truncated (pysam's ``pileup`` default ``max_depth`` of 8,000 would do that
silently).

One fragment is one molecule: when both mates of a pair cover a site, the fragment is counted once;
if the mates disagree on the allele, the fragment is counted as ``discordant`` and left out of the
depth (a sequencing error in one mate, or a PCR chimera). A mate whose base fails the base-quality
filter simply does not vote, so the other mate still counts the fragment.

Coordinates: sites use 1-based ``pos`` (VCF); the counter works in 0-based positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import settings_kwargs
from ..errors import InputError
from .cigar import DELETION_EVENT, INSERTION_EVENT, indel_events, query_position
from .sites import DELETION, INSERTION, SNV, Reference, indel_class

REF, ALT, OTHER = 0, 1, 2
# Sites closer than this (bp) share one fetch of reads. A BAM index resolves positions to 16 kb
# linear-index windows, so separate fetches of nearby sites would decode the same blocks again;
# streaming through the reads between them is cheaper.
WINDOW_GAP = 16_384

COUNT_COLUMNS = [
    "chrom", "pos", "ref", "alt", "ref_count", "alt_count", "other_count", "depth", "discordant",
    "ref_fwd", "ref_rev", "alt_fwd", "alt_rev", "ref_fragment_median", "alt_fragment_median",
]


@dataclass(frozen=True)
class ReadFilterSettings:
    """Which reads and bases are counted.

    min_mapping_quality: reads below it are skipped (Phred).
    min_base_quality: a read's base at an SNV site, or its anchor base at an indel site, must
        reach it (Phred) for the read to vote.
    flag_filter: reads with any of these SAM flag bits are skipped (default 3844: unmapped 0x4,
        secondary 0x100, QC-fail 0x200, duplicate 0x400, supplementary 0x800).
    require_proper_pair: count only reads with the proper-pair bit (0x2).
    """

    min_mapping_quality: int = 40
    min_base_quality: int = 30
    flag_filter: int = 0x4 | 0x100 | 0x200 | 0x400 | 0x800
    require_proper_pair: bool = False

    @classmethod
    def from_config(cls, variants_config: dict) -> "ReadFilterSettings":
        return cls(**settings_kwargs(cls, variants_config, "variants", strict=False))


class _Site:
    """Per-site matching rule and the fragments seen so far (query name -> observation)."""

    __slots__ = ("index", "kind", "pos0", "ref_base", "alt_base", "length", "anchors",
                 "start", "end", "fragments")

    def __init__(self, index: int, kind: str, pos0: int, ref: str, alt: str,
                 reference: Reference | None, chrom: str):
        self.index = index
        self.kind = kind
        self.pos0 = pos0
        self.fragments: dict[str, int] = {}
        if kind == SNV:
            self.ref_base, self.alt_base = ref, alt
            self.length, self.anchors = 0, {}
            self.start, self.end = pos0, pos0  # inclusive span of reference positions
        else:
            cls = indel_class(reference, chrom, pos0, ref, alt)
            self.ref_base = self.alt_base = ""
            self.length, self.anchors = cls.length, cls.anchors
            self.start, self.end = cls.span_start, cls.span_end


def _observe_indel(site: _Site, read_start: int, read_end: int, cigar, seq: str, quals,
                   min_bq: int) -> int | None:
    """REF/ALT/OTHER for a read at an indel site, or None when the read is not informative."""
    events = indel_events(cigar, read_start)
    in_span = [e for e in events if site.start <= e[1] <= site.end]
    for kind, anchor, length, qoff in in_span:
        want = site.anchors.get(anchor)
        if want is None or length != site.length:
            continue
        if site.kind == DELETION and kind == DELETION_EVENT:
            qpos = query_position(cigar, read_start, anchor)
        elif (site.kind == INSERTION and kind == INSERTION_EVENT
              and seq[qoff:qoff + length] == want):
            qpos = qoff - 1
        else:
            continue
        if qpos < 0 or quals[qpos] < min_bq:
            return None
        return ALT
    # The reference allele needs aligned bases on both flanks of the whole repeat span.
    if read_start > site.start or read_end <= site.end:
        return None
    q_start = query_position(cigar, read_start, site.start)
    q_end = query_position(cigar, read_start, site.end)
    if q_start < 0 or q_end < 0:
        return None
    if in_span:
        return OTHER if quals[q_start] >= min_bq else None
    return REF if quals[q_start] >= min_bq else None


def _windows(sites: list[_Site]) -> list[list[_Site]]:
    """Group sites (sorted by start) into windows whose reads are fetched once."""
    groups: list[list[_Site]] = []
    for site in sorted(sites, key=lambda s: s.start):
        if groups and site.start - max(s.end for s in groups[-1]) <= WINDOW_GAP:
            groups[-1].append(site)
        else:
            groups.append([site])
    return groups


def _count_window(bam, chrom: str, window: list[_Site], filters: ReadFilterSettings) -> None:
    """Stream the reads of one window (sites sorted by start) and record each read's
    observation at every site it covers."""
    window = sorted(window, key=lambda s: s.start)
    starts = [s.start for s in window]
    n_sites = len(window)
    fetch_start = starts[0]
    fetch_end = max(s.end for s in window) + 1
    flag_filter = filters.flag_filter
    min_mapq = filters.min_mapping_quality
    min_bq = filters.min_base_quality
    proper_only = filters.require_proper_pair
    first = 0  # sites before this one end left of every read still to come (reads are sorted)
    for read in bam.fetch(chrom, fetch_start, fetch_end):
        flag = read.flag
        if flag & flag_filter or read.mapping_quality < min_mapq:
            continue
        if proper_only and not flag & 0x2:
            continue
        read_start = read.reference_start
        while first < n_sites and window[first].end < read_start:
            first += 1
        if first == n_sites:
            break
        read_end = read.reference_end
        if read_end is None or starts[first] >= read_end:
            continue
        cigarstring = read.cigarstring
        # Most reads align without indels or clips: then query offset = reference offset.
        simple = cigarstring[-1] == "M" and cigarstring[:-1].isdigit()
        cigar = None if simple else read.cigartuples
        seq = read.query_sequence
        quals = read.query_qualities
        if seq is None or quals is None:
            continue
        name = None
        for k in range(first, n_sites):
            site = window[k]
            if site.start >= read_end:
                break
            if site.end < read_start:
                continue
            if site.kind == SNV:
                if simple:
                    qpos = site.pos0 - read_start
                else:
                    qpos = query_position(cigar, read_start, site.pos0)
                    if qpos < 0:
                        continue
                if quals[qpos] < min_bq:
                    continue
                base = seq[qpos]
                allele = REF if base == site.ref_base else ALT if base == site.alt_base else OTHER
            else:
                if cigar is None:
                    cigar = read.cigartuples
                allele = _observe_indel(site, read_start, read_end, cigar, seq, quals, min_bq)
                if allele is None:
                    continue
            if name is None:
                name = read.query_name
                tlen = read.template_length
                # One int per observation: bits 0-1 allele, bit 2 reverse strand, bit 3 read 1,
                # bits 4+ fragment length (0 = unknown); -1 marks discordant mates.
                bits = ((4 if flag & 0x10 else 0) | (8 if (flag & 0x40 or not flag & 0x1) else 0)
                        | (((tlen if tlen > 0 else -tlen) << 4) if flag & 0x2 else 0))
            code = bits | allele
            fragments = site.fragments
            previous = fragments.get(name)
            if previous is None:
                fragments[name] = code
            elif previous < 0:
                continue
            elif previous & 3 != allele:
                fragments[name] = -1
            elif code & 8:
                # Concordant mates: the fragment's strand is read 1's strand.
                fragments[name] = code


def _summarise(site: _Site) -> dict:
    codes = np.fromiter(site.fragments.values(), dtype=np.int64, count=len(site.fragments))
    discordant = int((codes < 0).sum())
    codes = codes[codes >= 0]
    allele = codes & 3
    reverse = (codes >> 2) & 1
    frag_len = codes >> 4
    counts = np.bincount(allele, minlength=3)
    out = {"ref_count": int(counts[REF]), "alt_count": int(counts[ALT]),
           "other_count": int(counts[OTHER]), "depth": int(counts.sum()), "discordant": discordant}
    for code, label in ((REF, "ref"), (ALT, "alt")):
        mine = allele == code
        n_rev = int(reverse[mine].sum())
        out[f"{label}_fwd"] = int(mine.sum()) - n_rev
        out[f"{label}_rev"] = n_rev
        lengths = frag_len[mine & (frag_len > 0)]
        out[f"{label}_fragment_median"] = float(np.median(lengths)) if lengths.size else math.nan
    return out


def count_sites(bam_path: str | Path, sites: pd.DataFrame,
                filters: ReadFilterSettings | None = None,
                reference: Reference | str | Path | None = None) -> pd.DataFrame:
    """Count fragments supporting ref, alt and other alleles at each site of ``sites``
    (columns chrom, pos (1-based), ref, alt, variant_type as from ``sites.validate_sites``).

    Returns one row per input site, in input order, with ``COUNT_COLUMNS``: fragment counts
    (``depth`` = ref + alt + other; discordant mate pairs excluded), strand counts (the strand of
    the read that showed the allele; read 1's when both mates did), and the median fragment
    length (bp, |TLEN| of properly paired reads) of ref- and alt-supporting fragments.

    ``reference`` (FASTA path or ``Reference``) lets indels be matched at every equivalent
    placement within a repeat; without it only the given placement counts."""
    import pysam

    filters = filters or ReadFilterSettings()
    own_reference = isinstance(reference, (str, Path))
    ref_obj = Reference(reference) if own_reference else reference
    rows: list[dict | None] = [None] * len(sites)
    try:
        try:
            bam = pysam.AlignmentFile(str(bam_path), "rb")
        except (OSError, ValueError) as exc:
            raise InputError(f"{bam_path}: cannot open as an indexed BAM ({exc})") from None
        with bam:
            if not bam.has_index():
                raise InputError(f"{bam_path}: no index (.bai) found; run samtools index")
            contigs = set(bam.references)
            by_chrom: dict[str, list[_Site]] = {}
            for i, row in enumerate(sites.itertuples(index=False)):
                kind = getattr(row, "variant_type", None) or _kind(row.ref, row.alt)
                by_chrom.setdefault(row.chrom, []).append(
                    _Site(i, kind, int(row.pos) - 1, row.ref, row.alt, ref_obj, row.chrom))
            for chrom, chrom_sites in by_chrom.items():
                if chrom in contigs:
                    for window in _windows(chrom_sites):
                        _count_window(bam, chrom, window, filters)
                for site in chrom_sites:
                    rows[site.index] = _summarise(site)
                    site.fragments = {}
    finally:
        if own_reference and ref_obj is not None:
            ref_obj.close()
    counts = pd.DataFrame(rows, columns=COUNT_COLUMNS[4:])
    out = pd.concat([sites[["chrom", "pos", "ref", "alt"]].reset_index(drop=True), counts], axis=1)
    return out[COUNT_COLUMNS]


def _kind(ref: str, alt: str) -> str:
    from .sites import variant_type

    kind = variant_type(ref, alt)
    if kind is None:
        raise InputError(f"site {ref}>{alt}: not an SNV or a simple insertion/deletion")
    return kind
