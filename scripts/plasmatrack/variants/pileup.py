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

Memory does not grow with depth: a site keeps running tallies (counts by allele and strand, a
fragment-length histogram) and, by query name, only the fragments still open, those whose other
mate may yet show at the site (it starts at or before the site, after this read, by the mate
fields RNEXT/PNEXT). A fragment is final once both mates showed or the other cannot, and every
open one is final once the reads have passed the site. When the flag filter lets secondary or
supplementary records through (more than two reads per name), fragments stay open until their
site is passed, as the mates cannot be told apart by the mate fields alone.

With ``end_collisions`` the same pass also tallies, at every SNV site, the distinct fragment end
pairs of all reads covering it (duplicates included: ``collisions.EndPairs``), which the
end-collision correction needs beside the ref and alt length histograms kept anyway.

Coordinates: sites use 1-based ``pos`` (VCF); the counter works in 0-based positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import settings_kwargs
from ..errors import InputError
from .collisions import MOLECULE_COLUMNS, NOT_A_FRAGMENT, EndPairs
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
# Appended when ``count_sites`` is given ``short_fragment_length``: ref and alt fragments shorter
# than it, and of known length (|TLEN| of a proper pair).
LENGTH_BIN_COLUMNS = ["ref_short", "ref_sized", "alt_short", "alt_sized"]


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
    """Per-site matching rule, running tallies of the fragments counted so far, and the
    fragments still open (query name -> observation) because their other mate may yet show."""

    __slots__ = ("index", "kind", "pos0", "ref_base", "alt_base", "length", "anchors",
                 "start", "end", "open", "counts", "reverse", "discordant", "lengths", "ends")

    def __init__(self, index: int, kind: str, pos0: int, ref: str, alt: str,
                 reference: Reference | None, chrom: str, end_pairs: bool = False):
        self.index = index
        self.kind = kind
        self.pos0 = pos0
        self.open: dict[str, int] = {}
        self.counts = [0, 0, 0]  # fragments by allele REF, ALT, OTHER
        self.reverse = [0, 0, 0]  # of those, on the reverse strand
        self.discordant = 0
        # Fragment length (bp) -> fragments, for REF and ALT: bounded by the length range,
        # not by depth, and enough for exact medians and length bins.
        self.lengths: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # distinct end pairs covering an SNV, for the end-collision correction (collisions.py)
        self.ends = EndPairs(pos0) if end_pairs and kind == SNV else None
        if kind == SNV:
            self.ref_base, self.alt_base = ref, alt
            self.length, self.anchors = 0, {}
            self.start, self.end = pos0, pos0  # inclusive span of reference positions
        else:
            cls = indel_class(reference, chrom, pos0, ref, alt)
            self.ref_base = self.alt_base = ""
            self.length, self.anchors = cls.length, cls.anchors
            self.start, self.end = cls.span_start, cls.span_end

    def add(self, code: int) -> None:
        """Tally one finished fragment (an observation code, -1 for discordant mates)."""
        if code < 0:
            self.discordant += 1
            return
        allele = code & 3
        self.counts[allele] += 1
        if code & 4:
            self.reverse[allele] += 1
        length = code >> 4
        if length and allele != OTHER:
            hist = self.lengths[allele]
            hist[length] = hist.get(length, 0) + 1

    def close(self) -> None:
        """No read still to come covers the site: the open fragments are final."""
        for code in self.open.values():
            self.add(code)
        self.open = {}


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


def _mate_start(read, flag: int) -> int:
    """0-based start of the read's mate on the same contig, or -1 when no mate will come
    (unpaired, mate unmapped or on another contig)."""
    if not flag & 0x1 or flag & 0x8 or read.next_reference_id != read.reference_id:
        return -1
    return read.next_reference_start


def _count_window(bam, chrom: str, window: list[_Site], filters: ReadFilterSettings,
                  end_pairs: bool = False) -> None:
    """Stream the reads of one window (sites sorted by start), record each read's observation
    at every site it covers, and close each site once the reads have passed it. With
    ``end_pairs`` every read of a proper pair (filtered or not, duplicates included) also adds
    its fragment's end pair to the SNV sites it covers."""
    window = sorted(window, key=lambda s: s.start)
    n_sites = len(window)
    flag_filter = filters.flag_filter
    min_mapq = filters.min_mapping_quality
    proper_only = filters.require_proper_pair
    # Without secondary and supplementary records a query name has at most two reads (the
    # mates), so a fragment is final once both showed or the other cannot cover the site.
    # When the flag filter lets them through, every fragment stays open until its site closes.
    final_early = flag_filter & 0x900 == 0x900
    first = 0  # sites before this one end left of every read still to come (reads are sorted)
    fetch_end = max(s.end for s in window) + 1
    for read in bam.fetch(chrom, window[0].start, fetch_end):
        flag = read.flag
        read_start = read.reference_start
        # reads are sorted: sites ending left of this read are passed for every later read too
        while first < n_sites and window[first].end < read_start:
            window[first].close()
            first += 1
        if first == n_sites:
            break
        if end_pairs and flag & 0x2 and not flag & NOT_A_FRAGMENT:
            _record_end_pair(read, window, first)
        if flag & flag_filter or read.mapping_quality < min_mapq:
            continue
        if proper_only and not flag & 0x2:
            continue
        _observe_read(read, flag, window, first, filters.min_base_quality, final_early)
    for site in window:
        site.close()


def _record_end_pair(read, window: list[_Site], first: int) -> None:
    """Add the read's fragment end pair (start, |TLEN|) to every SNV site of ``window[first:]``
    where the read has an aligned base (as the fragment counts require)."""
    length = abs(read.template_length)
    read_end = read.reference_end
    if not length or read_end is None:
        return
    read_start = read.reference_start
    start = min(read_start, read.next_reference_start)
    cigar = None
    for k in range(first, len(window)):
        site = window[k]
        if site.start >= read_end:
            break
        if site.ends is None or site.pos0 < read_start:
            continue
        if cigar is None:
            cigar = read.cigartuples
        if query_position(cigar, read_start, site.pos0) >= 0:
            site.ends.add(start, length, read.query_length)


def _observe_read(read, flag: int, window: list[_Site], first: int, min_bq: int,
                  final_early: bool) -> None:
    """Record one read's allele at every site of ``window[first:]`` it covers."""
    read_start = read.reference_start
    read_end = read.reference_end
    if read_end is None or window[first].start >= read_end:
        return
    cigarstring = read.cigarstring
    # Most reads align without indels or clips: then query offset = reference offset.
    simple = cigarstring[-1] == "M" and cigarstring[:-1].isdigit()
    cigar = None if simple else read.cigartuples
    seq = read.query_sequence
    quals = read.query_qualities
    if seq is None or quals is None:
        return
    name = None
    for k in range(first, len(window)):
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
            mate_start = _mate_start(read, flag) if final_early else read_start
            tlen = read.template_length
            # One int per observation: bits 0-1 allele, bit 2 reverse strand, bit 3 read 1,
            # bits 4+ fragment length (0 = unknown); -1 marks discordant mates.
            bits = ((4 if flag & 0x10 else 0) | (8 if (flag & 0x40 or not flag & 0x1) else 0)
                    | (((tlen if tlen > 0 else -tlen) << 4) if flag & 0x2 else 0))
        code = bits | allele
        fragments = site.open
        previous = fragments.pop(name, None)
        if previous is not None:
            # The fragment's other mate: concordant mates count once with read 1's strand.
            if previous >= 0:
                code = -1 if previous & 3 != allele else code if code & 8 else previous
            else:
                code = previous
            if final_early:
                site.add(code)
            else:
                fragments[name] = code
        elif final_early and (mate_start < read_start or mate_start > site.end):
            # The mate came before (and did not show here) or starts past the site.
            site.add(code)
        else:
            fragments[name] = code


def _median(hist: dict[int, int]) -> float:
    """The median of values given as value -> count (as ``np.median`` of the values)."""
    n = sum(hist.values())
    if not n:
        return math.nan
    lower_rank, upper_rank = (n - 1) // 2, n // 2
    seen, lower = 0, None
    for value in sorted(hist):
        seen += hist[value]
        if lower is None and seen > lower_rank:
            lower = value
        if seen > upper_rank:
            return (lower + value) / 2
    raise AssertionError("unreachable: the counts sum to n")


def _summarise(site: _Site, short_fragment_length: int | None = None,
               end_collisions: bool = False) -> dict:
    """One output row's counts (``count_sites``) from a closed site's tallies."""
    counts, reverse = site.counts, site.reverse
    out = {"ref_count": counts[REF], "alt_count": counts[ALT], "other_count": counts[OTHER],
           "depth": sum(counts), "discordant": site.discordant}
    for code, label in ((REF, "ref"), (ALT, "alt")):
        out[f"{label}_fwd"] = counts[code] - reverse[code]
        out[f"{label}_rev"] = reverse[code]
        out[f"{label}_fragment_median"] = _median(site.lengths[code])
    if short_fragment_length is not None:
        for code, label in ((REF, "ref"), (ALT, "alt")):
            hist = site.lengths[code]
            out[f"{label}_short"] = sum(n for length, n in hist.items()
                                        if length < short_fragment_length)
            out[f"{label}_sized"] = sum(hist.values())
    if end_collisions:
        out.update(zip(MOLECULE_COLUMNS, _molecules(site)))
    return out


def _molecules(site: _Site) -> tuple[float, float]:
    """(ref, alt) molecules estimated behind an SNV site's counted fragments; NaN for an indel
    or a contig the BAM lacks (no end pairs were tallied)."""
    if site.ends is None:
        return math.nan, math.nan
    ref, alt = site.lengths
    return site.ends.molecules(ref, site.counts[REF] - sum(ref.values()),
                               alt, site.counts[ALT] - sum(alt.values()))


def count_sites(bam_path: str | Path, sites: pd.DataFrame,
                filters: ReadFilterSettings | None = None,
                reference: Reference | str | Path | None = None,
                short_fragment_length: int | None = None,
                end_collisions: bool = False) -> pd.DataFrame:
    """Count fragments supporting ref, alt and other alleles at each site of ``sites``
    (columns chrom, pos (1-based), ref, alt, variant_type as from ``sites.validate_sites``).

    Returns one row per input site, in input order, with ``COUNT_COLUMNS``: fragment counts
    (``depth`` = ref + alt + other; discordant mate pairs excluded), strand counts (the strand of
    the read that showed the allele; read 1's when both mates did), and the median fragment
    length (bp, |TLEN| of properly paired reads) of ref- and alt-supporting fragments.

    ``reference`` (FASTA path or ``Reference``) lets indels be matched at every equivalent
    placement within a repeat; without it only the given placement counts.
    ``short_fragment_length`` (bp) appends ``LENGTH_BIN_COLUMNS``: per allele, the fragments of
    known length and those shorter than it (for fragment-length weighting).
    ``end_collisions`` appends ``collisions.MOLECULE_COLUMNS``: the distinct molecules estimated
    behind each SNV's ref and alt fragments (NaN for indels and contigs the BAM lacks), for
    ``collisions.correct_counts``."""
    filters = filters or ReadFilterSettings()
    own_reference = isinstance(reference, (str, Path))
    ref_obj = Reference(reference) if own_reference else reference
    try:
        rows = _count_bam(bam_path, sites, filters, ref_obj,
                          lambda site: _summarise(site, short_fragment_length, end_collisions),
                          end_collisions)
    finally:
        if own_reference and ref_obj is not None:
            ref_obj.close()
    columns = (COUNT_COLUMNS + (LENGTH_BIN_COLUMNS if short_fragment_length is not None else [])
               + (MOLECULE_COLUMNS if end_collisions else []))
    counts = pd.DataFrame(rows, columns=columns[4:])
    out = pd.concat([sites[["chrom", "pos", "ref", "alt"]].reset_index(drop=True), counts], axis=1)
    return out[columns]


def _count_bam(bam_path: str | Path, sites: pd.DataFrame, filters: ReadFilterSettings,
               reference: Reference | None, summarise, end_collisions: bool) -> list[dict]:
    """``summarise(site)`` of every site of ``sites`` after counting it in the BAM, in order."""
    import pysam

    rows: list[dict | None] = [None] * len(sites)
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
                _Site(i, kind, int(row.pos) - 1, row.ref, row.alt, reference, row.chrom,
                      end_pairs=end_collisions and row.chrom in contigs))
        for chrom, chrom_sites in by_chrom.items():
            for window in _windows(chrom_sites):
                if chrom in contigs:
                    _count_window(bam, chrom, window, filters, end_collisions)
                for site in window:
                    rows[site.index] = summarise(site)
    return rows


def _kind(ref: str, alt: str) -> str:
    from .sites import variant_type

    kind = variant_type(ref, alt)
    if kind is None:
        raise InputError(f"site {ref}>{alt}: not an SNV or a simple insertion/deletion")
    return kind
