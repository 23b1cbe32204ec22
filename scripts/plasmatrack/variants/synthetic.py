"""Synthetic read pairs with exactly known allele counts, for unit tests and benchmarks.

Each fragment is cut from a haplotype (the reference with at most one variant applied) and read
from both ends; mates overlap when the fragment is shorter than twice the read length, as in
cfDNA. Reads are written as aligned records (CIGAR built from the haplotype), so the counter is
tested without an aligner. Coordinates: 0-based inside, 1-based ``pos`` for variants (VCF)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BASES = "ACGT"


def random_genome(contigs: dict[str, int], seed: int = 1) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {name: "".join(rng.choice(list(BASES), size=length)) for name, length in contigs.items()}


def write_fasta(path: str | Path, genome: dict[str, str]) -> Path:
    import pysam

    path = Path(path)
    with open(path, "w") as handle:
        for name, seq in genome.items():
            handle.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                handle.write(seq[i:i + 60] + "\n")
    pysam.faidx(str(path))
    return path


@dataclass
class Fragment:
    """One molecule: [start, start + length) on the reference plus an optional variant
    (pos 1-based, VCF alleles) it carries. ``flag_extra`` is OR-ed into both mates' flags;
    ``mapq`` is both mates'; ``low_quality_at`` gives 0-based reference positions whose base
    quality is set to 2 in ``low_quality_mates`` (1, 2 or both)."""

    chrom: str
    start: int
    length: int
    variant: tuple[int, str, str] | None = None
    r1_reverse: bool = False
    mapq: int = 60
    flag_extra: int = 0
    low_quality_at: tuple[int, ...] = ()
    low_quality_mates: tuple[int, ...] = (1, 2)
    mate_error_at: tuple[int, str] | None = None  # (pos0, base) error in read 2 only
    name: str | None = None
    extra: dict = field(default_factory=dict)


def _haplotype(seq: str, start: int, end: int, variant) -> list[tuple[int | None, str]]:
    """Reference positions and bases of the haplotype over [start, end) of the reference."""
    hap = [(p, seq[p]) for p in range(start, end)]
    if variant is None:
        return hap
    pos, ref, alt = variant
    pos0 = pos - 1
    if len(ref) == 1 and len(alt) == 1:
        return [(p, alt if p == pos0 else b) for p, b in hap]
    out: list[tuple[int | None, str]] = []
    for p, b in hap:
        if len(ref) > 1 and pos0 < p <= pos0 + len(ref) - 1:
            continue  # deleted
        out.append((p, b))
        if len(alt) > 1 and p == pos0:
            out.extend((None, c) for c in alt[1:])
    return out


def _read_from(hap: list[tuple[int | None, str]]) -> tuple[int, list[tuple[int, int]], str]:
    """(reference start, CIGAR tuples, bases) of a read that is a slice of the haplotype.
    Leading/trailing inserted bases are soft-clipped, as an aligner would."""
    bases = "".join(b for _, b in hap)
    ops: list[list[int]] = []

    def push(op: int, n: int = 1) -> None:
        if ops and ops[-1][0] == op:
            ops[-1][1] += n
        else:
            ops.append([op, n])

    first = next(i for i, (p, _) in enumerate(hap) if p is not None)
    last = max(i for i, (p, _) in enumerate(hap) if p is not None)
    if first:
        push(4, first)
    prev = None
    for p, _ in hap[first:last + 1]:
        if p is None:
            push(1)
            continue
        if prev is not None and p > prev + 1:
            push(2, p - prev - 1)
        push(0)
        prev = p
    if last < len(hap) - 1:
        push(4, len(hap) - 1 - last)
    return hap[first][0], [(op, n) for op, n in ops], bases


def write_bam(path: str | Path, genome: dict[str, str], fragments: list[Fragment],
              read_length: int = 100, base_quality: int = 37, sample: str = "S1",
              error_rate: float = 0.0, seed: int = 0) -> Path:
    """Write a coordinate-sorted, indexed BAM of the fragments' read pairs. ``error_rate``:
    probability that a base is replaced by one of the three others (independently per read,
    quality unchanged), a uniform sequencing-error background."""
    import pysam

    rng = np.random.default_rng(seed)

    path = Path(path)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": n, "LN": len(s)} for n, s in genome.items()],
              "RG": [{"ID": sample, "SM": sample}]}
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for i, frag in enumerate(fragments):
            seq = genome[frag.chrom]
            hap = _haplotype(seq, frag.start, frag.start + frag.length, frag.variant)
            n = min(read_length, len(hap))
            left, right = hap[:n], hap[-n:]
            name = frag.name or f"f{i}"
            l_start, l_cigar, l_bases = _read_from(left)
            r_start, r_cigar, r_bases = _read_from(right)
            frag_end = right[-1][0] + 1 if right[-1][0] is not None else frag.start + frag.length
            tlen = frag_end - l_start
            # Read 1 is the left (forward) read unless the fragment is in the other orientation.
            mates = [(l_start, l_cigar, l_bases, False), (r_start, r_cigar, r_bases, True)]
            if frag.r1_reverse:
                mates = mates[::-1]
            records = []
            for mate_index, (start, cigar, bases, reverse) in enumerate(mates, start=1):
                other = mates[1 - (mate_index - 1)]
                quals = [base_quality] * len(bases)
                bases_list = list(bases)
                hap_part = left if not reverse else right
                if mate_index in frag.low_quality_mates:
                    for j, (p, _) in enumerate(hap_part):
                        if p in frag.low_quality_at:
                            quals[j] = 2
                if error_rate > 0:
                    for j in np.flatnonzero(rng.random(len(bases_list)) < error_rate):
                        shift = int(rng.integers(1, 4))
                        bases_list[j] = BASES[(BASES.index(bases_list[j]) + shift) % 4]
                if mate_index == 2 and frag.mate_error_at is not None:
                    for j, (p, _) in enumerate(hap_part):
                        if p == frag.mate_error_at[0]:
                            bases_list[j] = frag.mate_error_at[1]
                rec = pysam.AlignedSegment(out.header)
                rec.query_name = name
                rec.query_sequence = "".join(bases_list)
                rec.flag = (0x1 | 0x2 | (0x10 if reverse else 0) | (0x20 if not reverse else 0)
                            | (0x40 if mate_index == 1 else 0x80) | frag.flag_extra)
                rec.reference_id = out.get_tid(frag.chrom)
                rec.reference_start = start
                rec.mapping_quality = frag.mapq
                rec.cigartuples = cigar
                rec.next_reference_id = rec.reference_id
                rec.next_reference_start = other[0]
                rec.template_length = tlen if not reverse else -tlen
                rec.query_qualities = pysam.qualitystring_to_array(
                    "".join(chr(q + 33) for q in quals))
                rec.set_tag("RG", sample)
                records.append(rec)
            for rec in records:
                out.write(rec)
    pysam.sort("-o", str(path), str(unsorted))
    unsorted.unlink()
    pysam.index(str(path))
    return path


def site_fragments(genome: dict[str, str], chrom: str, pos: int, ref: str, alt: str,
                   n_ref: int, n_alt: int, rng: np.random.Generator,
                   length_range: tuple[int, int] = (140, 200),
                   alt_length_range: tuple[int, int] | None = None,
                   read_length: int = 100, prefix: str = "") -> list[Fragment]:
    """``n_ref`` + ``n_alt`` fragments covering the variant at (chrom, pos): each fragment
    places the variant inside at least one read (so it is informative). Alt fragments can be
    given their own length range (tumour fragments are shorter)."""
    frags = []
    pos0 = pos - 1
    span = max(len(ref), len(alt))
    for k in range(n_ref + n_alt):
        is_alt = k >= n_ref
        lo, hi = alt_length_range if (is_alt and alt_length_range) else length_range
        length = int(rng.integers(lo, hi + 1))
        # Keep the site (with flanks for indels) inside one of the two reads.
        if rng.random() < 0.5:
            offset = int(rng.integers(5, min(read_length, length) - span - 5))
        else:
            offset = length - int(rng.integers(span + 5, min(read_length, length) - 5))
        start = max(0, pos0 - offset)
        start = min(start, len(genome[chrom]) - length - 1)
        frags.append(Fragment(chrom, start, length, (pos, ref, alt) if is_alt else None,
                              r1_reverse=bool(rng.random() < 0.5),
                              name=f"{prefix}{chrom}_{pos}_{k}"))
    return frags


def phred_qualities(rng: np.random.Generator, n: int, read_length: int, mate: int) -> np.ndarray:
    """Illumina-like base qualities: falling along the read (read 2 slightly worse), +/-4
    jitter, 1% dips to Q5-15 (the demo simulator's model)."""
    x = np.arange(read_length) / (read_length - 1)
    mean = np.rint(38.0 - 12.0 * x ** 2 - 2.0 * (mate - 1)).astype(np.int16)
    q = mean[None, :] + rng.integers(-4, 5, (n, read_length), dtype=np.int16)
    dips = rng.random((n, read_length)) < 0.01
    q[dips] = rng.integers(5, 16, int(dips.sum()), dtype=np.int16)
    return np.clip(q, 2, 41).astype(np.uint8)


def write_snv_panel_bam(path: str | Path, genome: dict[str, str], chrom: str,
                        sites: list[tuple[int, str, str, float]], depth: int, seed: int,
                        read_length: int = 100, length_range: tuple[int, int] = (140, 200),
                        sample: str = "S1") -> Path:
    """Fast, vectorised: ``depth`` fragments over each SNV site (pos 1-based, ref, alt, VAF),
    each carrying the alt with probability VAF, read as overlapping pairs with Phred-model
    qualities and sequencing errors at the rate the qualities state (independent per mate).
    Reads are written as SAM text and sorted by samtools (through pysam)."""
    import pysam

    rng = np.random.default_rng(seed)
    seq = np.frombuffer(genome[chrom].encode(), dtype=np.uint8)
    n_sites = len(sites)
    n = n_sites * depth
    site_idx = np.repeat(np.arange(n_sites), depth)
    pos0 = np.array([s[0] - 1 for s in sites], dtype=np.int64)[site_idx]
    alt_code = np.array([ord(s[2]) for s in sites], dtype=np.uint8)[site_idx]
    carries = rng.random(n) < np.array([s[3] for s in sites])[site_idx]
    length = rng.integers(length_range[0], length_range[1] + 1, n)
    offset = (rng.random(n) * (length - 10)).astype(np.int64) + 5
    start = np.clip(pos0 - offset, 0, len(seq) - length - 1)
    end = start + length
    r1_rev = rng.random(n) < 0.5
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    lines = []
    for mate in (1, 2):
        left = (mate == 1) != r1_rev  # this mate is the left (forward) read
        rstart = np.where(left, start, end - read_length)
        idx = rstart[:, None] + np.arange(read_length)[None, :]
        reads = seq[idx].copy()
        hit = (idx == pos0[:, None]) & carries[:, None]
        reads[hit] = np.broadcast_to(alt_code[:, None], hit.shape)[hit]
        quals = phred_qualities(rng, n, read_length, mate)
        err = rng.random(reads.shape) < 10.0 ** (-quals.astype(np.float64) / 10.0)
        if err.any():
            old = np.searchsorted(bases, reads[err])
            reads[err] = bases[(old + rng.integers(1, 4, old.size)) % 4]
        mate_start = np.where(left, end - read_length, start)
        flag = (0x1 | 0x2 | (0x40 if mate == 1 else 0x80)
                | np.where(left, 0x20, 0x10))
        tlen = np.where(left, length, -length)
        seq_txt = reads.view(f"S{read_length}").ravel()
        qual_txt = (quals + 33).view(f"S{read_length}").ravel()
        for i in range(n):
            lines.append(f"f{i}\t{flag[i]}\t{chrom}\t{rstart[i] + 1}\t60\t{read_length}M\t=\t"
                         f"{mate_start[i] + 1}\t{tlen[i]}\t{seq_txt[i].decode()}\t"
                         f"{qual_txt[i].decode()}\tRG:Z:{sample}\n")
    path = Path(path)
    sam = path.with_suffix(".sam")
    with open(sam, "w") as handle:
        handle.write("@HD\tVN:1.6\tSO:unsorted\n")
        for name, s in genome.items():
            handle.write(f"@SQ\tSN:{name}\tLN:{len(s)}\n")
        handle.write(f"@RG\tID:{sample}\tSM:{sample}\n")
        handle.writelines(lines)
    pysam.sort("-o", str(path), str(sam))
    sam.unlink()
    pysam.index(str(path))
    return path
