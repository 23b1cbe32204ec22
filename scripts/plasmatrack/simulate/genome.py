"""The synthetic reference genome of the demo cohort: contigs, genes, exons, capture panel,
hotspots, a population of germline SNP sites and systematic sequencing-error sites.

Coordinates: every interval here is 0-based half-open (BED style); every ``pos`` in a hotspot or
variant table is 1-based (VCF style). Inside the simulator, positions on the concatenated genome
(``Genome.offsets[chrom] + pos0``) are called global coordinates.

The genome is random sequence with GC content varying in blocks (35%-60%), so per-sample GC bias
changes coverage, plus a few low-complexity stretches and copies of a repeat element away from
genes and targets. Contigs are named after the real chromosomes of the genes they carry and the
genes sit on the arm they sit on in the human genome (ERBB2, PGAP3, GRB7 on 17q12 inside the
amplicon; IKZF3 and TOP2A just outside it; TP53 on 17p)."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
# ASCII -> complement ASCII (N stays N)
COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTN", b"TGCAN"):
    COMPLEMENT[_a] = _b

# name, length (bp), centromere (bp): the p arm is [0, centromere), the q arm [centromere, length)
CONTIGS: list[tuple[str, int, int]] = [
    ("chr1", 2_600_000, 1_200_000),
    ("chr2", 2_000_000, 900_000),
    ("chr3", 2_200_000, 900_000),
    ("chr4", 1_800_000, 500_000),
    ("chr6", 1_900_000, 600_000),
    ("chr8", 2_200_000, 800_000),
    ("chr9", 1_600_000, 600_000),
    ("chr11", 2_000_000, 800_000),
    ("chr14", 1_600_000, 300_000),
    ("chr16", 1_600_000, 550_000),
    ("chr17", 3_000_000, 1_000_000),
    ("chr20", 1_600_000, 500_000),
]

# gene, chrom, start, span (bp), strand, exons (all on the panel)
GENES: list[tuple[str, str, int, int, str, int]] = [
    ("MTOR", "chr1", 550_000, 60_000, "-", 5),
    ("DNMT3A", "chr2", 400_000, 40_000, "-", 4),
    ("PIK3CA", "chr3", 1_500_000, 50_000, "+", 5),
    ("TET2", "chr4", 1_000_000, 50_000, "+", 4),
    ("ESR1", "chr6", 1_400_000, 60_000, "+", 4),
    ("FGFR1", "chr8", 350_000, 30_000, "-", 2),
    ("MYC", "chr8", 1_700_000, 8_000, "+", 2),
    ("TSC1", "chr9", 1_200_000, 40_000, "-", 3),
    ("CCND1", "chr11", 1_100_000, 12_000, "+", 2),
    ("AKT1", "chr14", 1_450_000, 20_000, "-", 2),
    ("CDH1", "chr16", 900_000, 40_000, "+", 3),
    ("TP53", "chr17", 300_000, 20_000, "-", 6),
    ("PGAP3", "chr17", 1_615_000, 20_000, "-", 2),
    ("ERBB2", "chr17", 1_640_000, 40_000, "+", 10),
    ("GRB7", "chr17", 1_700_000, 12_000, "+", 2),
    ("IKZF3", "chr17", 1_900_000, 60_000, "-", 2),
    ("TOP2A", "chr17", 2_050_000, 30_000, "-", 3),
    ("ASXL1", "chr20", 600_000, 40_000, "+", 2),
]

# The ERBB2 amplicon in amplified tumours: start within AMPLICON_START, end within AMPLICON_END,
# so it always holds PGAP3, ERBB2 and GRB7 and never IKZF3 or TOP2A.
AMPLICON_START = (1_540_000, 1_600_000)
AMPLICON_END = (1_730_000, 1_860_000)

# gene, protein change, exon index (0-based, in genomic order) the hotspot sits in
HOTSPOTS: list[tuple[str, str, int]] = [
    ("PIK3CA", "E542K", 1), ("PIK3CA", "E545K", 2), ("PIK3CA", "H1047R", 4),
    ("ESR1", "Y537S", 3), ("ESR1", "D538G", 3),
    ("ERBB2", "S310F", 2), ("ERBB2", "L755S", 5), ("ERBB2", "V777L", 6), ("ERBB2", "L869R", 8),
    ("AKT1", "E17K", 1),
    ("TP53", "R175H", 3), ("TP53", "R248Q", 2), ("TP53", "R273H", 1),
    ("MTOR", "S2215Y", 1),
    ("TSC1", "R509*", 1),
    ("DNMT3A", "R882H", 0), ("TET2", "R1465*", 3), ("ASXL1", "R693*", 1),
]

# Variants sit this far (bp) inside their capture target (see reads.capture_probability).
TARGET_MARGIN = 60
BACKBONE_PER_CONTIG = 3
N_SNP_POOL = 160
N_NOISY_SITES = 16
# TruSeq adapters read through on fragments shorter than a read, then poly-A (>= 100 bases each)
ADAPTER_R1 = b"AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG" + b"A" * 48
ADAPTER_R2 = b"AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGTAGATCTCGGTGGTCGCCGTATCATT" + b"A" * 52


@dataclass
class Genome:
    """The reference and its annotation. ``seq`` is the concatenated genome (ASCII uint8),
    ``gc_cum[i]`` the number of G/C bases in ``seq[:i]``."""

    names: list[str]
    lengths: dict[str, int]
    centromeres: dict[str, int]
    offsets: dict[str, int]
    seq: np.ndarray
    gc_cum: np.ndarray
    genes: pd.DataFrame  # chrom, start, end, name, strand
    exons: pd.DataFrame  # chrom, start, end, gene, exon_number, strand
    targets: pd.DataFrame  # chrom, start, end, name, gene, efficiency
    hotspots: pd.DataFrame  # chrom, pos (1-based), ref, alt, gene, protein_change
    snp_pool: pd.DataFrame  # chrom, pos, ref, alt, gene
    noisy: pd.DataFrame  # chrom, pos, ref, alt, error_rate

    def __post_init__(self) -> None:
        # plain-Python views for the per-patient design loops (pandas row access is slow)
        self.hotspot_index = {(r.gene, r.protein_change): (r.chrom, int(r.pos), r.ref, r.alt)
                              for r in self.hotspots.itertuples()}
        self.snp_pool_records = [(r.chrom, int(r.pos), r.ref, r.alt, r.gene)
                                 for r in self.snp_pool.itertuples()]
        self.reserved_positions = frozenset(
            (c, int(p)) for frame in (self.hotspots, self.snp_pool, self.noisy)
            for c, p in zip(frame["chrom"], frame["pos"]))
        self._target_cache: dict = {}

    def target_arrays(self, avoid_genes: tuple[str, ...], genic_only: bool):
        """(chroms, starts, ends, genes, cumulative width) of the eligible targets."""
        key = (avoid_genes, genic_only)
        if key not in self._target_cache:
            t = self.targets[~self.targets["gene"].isin(avoid_genes)]
            if genic_only:
                t = t[t["gene"] != ""]
            widths = (t["end"] - t["start"]).to_numpy().astype(float)
            self._target_cache[key] = (list(t["chrom"]), t["start"].to_numpy(),
                                       t["end"].to_numpy(), list(t["gene"]), np.cumsum(widths))
        return self._target_cache[key]

    @property
    def size(self) -> int:
        return int(self.seq.size)

    def contig_seq(self, chrom: str) -> np.ndarray:
        off = self.offsets[chrom]
        return self.seq[off:off + self.lengths[chrom]]

    def base(self, chrom: str, pos1: int) -> str:
        """Reference base at 1-based ``pos1``."""
        return chr(self.seq[self.offsets[chrom] + pos1 - 1])

    def global_pos(self, chrom: pd.Series | np.ndarray, pos0: np.ndarray) -> np.ndarray:
        return np.asarray([self.offsets[c] for c in chrom], dtype=np.int64) + np.asarray(
            pos0, dtype=np.int64)

    def contig_ends(self) -> np.ndarray:
        """Global end coordinate of each contig, in ``names`` order."""
        return np.asarray([self.offsets[n] + self.lengths[n] for n in self.names], dtype=np.int64)


def _random_sequence(rng: np.random.Generator, length: int) -> np.ndarray:
    """Random bases with GC content constant within blocks of 40-200 kb (35%-60% GC)."""
    out = np.empty(length, dtype=np.uint8)
    order = np.frombuffer(b"GCAT", dtype=np.uint8)
    pos = 0
    while pos < length:
        block = min(int(rng.integers(40_000, 200_000)), length - pos)
        gc = rng.uniform(0.35, 0.60)
        # thresholds on a 16-bit uniform: G below gc/2, C below gc, A below gc + (1-gc)/2
        cuts = np.asarray([gc / 2, gc, gc + (1 - gc) / 2]) * 65536
        u = rng.integers(0, 65536, block, dtype=np.uint16)
        out[pos:pos + block] = order[np.searchsorted(cuts, u, side="right")]
        pos += block
    return out


def _free(intervals: list[tuple[int, int]], start: int, end: int, margin: int) -> bool:
    return all(end + margin <= s or start - margin >= e for s, e in intervals)


@functools.lru_cache(maxsize=2)
def build_genome(seed: int) -> Genome:
    """Build the reference and its annotation, deterministic for ``seed`` (cached: callers must
    not modify the returned genome)."""
    rng = np.random.default_rng([seed, 0x6E0E])
    names = [c[0] for c in CONTIGS]
    lengths = {c[0]: c[1] for c in CONTIGS}
    centromeres = {c[0]: c[2] for c in CONTIGS}
    offsets: dict[str, int] = {}
    total = 0
    for name in names:
        offsets[name] = total
        total += lengths[name]
    seq = np.empty(total, dtype=np.uint8)
    for name in names:
        seq[offsets[name]:offsets[name] + lengths[name]] = _random_sequence(rng, lengths[name])

    # genes and exons: exons evenly spread over the gene span with jitter, 120-250 bp each
    gene_rows, exon_rows = [], []
    busy: dict[str, list[tuple[int, int]]] = {n: [] for n in names}
    for gene, chrom, start, span, strand, n_exons in GENES:
        end = start + span
        gene_rows.append((chrom, start, end, gene, strand))
        busy[chrom].append((start, end))
        slot = span // n_exons
        gene_exons = []
        for i in range(n_exons):
            length = int(rng.integers(140, 251))
            lo = start + i * slot + 200
            hi = start + (i + 1) * slot - 200 - length
            ex_start = int(rng.integers(lo, max(lo + 1, hi)))
            gene_exons.append((ex_start, ex_start + length))
        # exon numbers follow transcription: the 5' exon of a minus-strand gene is the last one
        for i, (s, e) in enumerate(gene_exons):
            number = i + 1 if strand == "+" else n_exons - i
            exon_rows.append((chrom, s, e, gene, number, strand))
    genes = pd.DataFrame(gene_rows, columns=["chrom", "start", "end", "name", "strand"])
    exons = pd.DataFrame(exon_rows, columns=["chrom", "start", "end", "gene", "exon_number",
                                             "strand"])

    # capture targets: every exon, plus backbone targets spread over each contig
    target_rows = [(r.chrom, r.start, r.end, f"{r.gene}_exon{r.exon_number}", r.gene)
                   for r in exons.itertuples()]
    for chrom in names:
        length = lengths[chrom]
        step = length // BACKBONE_PER_CONTIG
        for i in range(BACKBONE_PER_CONTIG):
            for _ in range(100):
                t_len = int(rng.integers(140, 201))
                s = int(rng.integers(i * step + 20_000, (i + 1) * step - 20_000 - t_len))
                if _free(busy[chrom], s, s + t_len, 20_000):
                    target_rows.append((chrom, s, s + t_len, f"backbone_{chrom}_{i + 1}", ""))
                    busy[chrom].append((s, s + t_len))
                    break
    targets = pd.DataFrame(target_rows, columns=["chrom", "start", "end", "name", "gene"])
    order = {n: i for i, n in enumerate(names)}
    targets = targets.sort_values(["chrom", "start"], key=lambda c: c.map(order)
                                  if c.name == "chrom" else c).reset_index(drop=True)

    # low-complexity stretches and copies of one repeat element, away from genes and targets
    element = _random_sequence(rng, 1_500)
    for chrom in names:
        off, length = offsets[chrom], lengths[chrom]
        for k in range(4):
            for _ in range(100):
                size = 1_500 if k < 2 else int(rng.integers(200, 800))
                s = int(rng.integers(10_000, length - 10_000 - size))
                if _free(busy[chrom], s, s + size, 5_000):
                    busy[chrom].append((s, s + size))
                    if k < 2:  # a diverged copy (~2%) of the repeat element
                        copy = element.copy()
                        hit = rng.random(size) < 0.02
                        copy[hit] = BASES[rng.integers(0, 4, hit.sum())]
                        seq[off + s:off + s + size] = copy
                    else:  # a short tandem repeat
                        unit = BASES[rng.integers(0, 4, int(rng.integers(1, 5)))]
                        seq[off + s:off + s + size] = np.resize(unit, size)
                    break

    gc_cum = np.zeros(total + 1, dtype=np.int32)
    is_gc = ((seq == ord("G")) | (seq == ord("C"))).view(np.uint8).astype(np.int32)
    np.cumsum(is_gc, out=gc_cum[1:])

    # per-target capture efficiency: fixed across samples (probe design), lower at extreme GC
    t_off = np.asarray([offsets[c] for c in targets["chrom"]], dtype=np.int64)
    t_gc = (gc_cum[t_off + targets["end"].to_numpy()] - gc_cum[t_off + targets["start"].to_numpy()]
            ) / (targets["end"] - targets["start"]).to_numpy()
    eff = rng.lognormal(0.0, 0.3, len(targets)) * np.exp(-((t_gc - 0.47) / 0.25) ** 2)
    targets["efficiency"] = np.round(eff / np.median(eff), 4)

    used: set[tuple[str, int]] = set()

    def pick_position(chrom: str, start: int, end: int) -> int | None:
        """A free 1-based position inside [start, end), TARGET_MARGIN bp from either end
        (None when 50 tries find none)."""
        for _ in range(50):
            pos1 = int(rng.integers(start + TARGET_MARGIN, end - TARGET_MARGIN)) + 1
            if all((chrom, pos1 + d) not in used for d in range(-3, 4)):
                used.add((chrom, pos1))
                return pos1
        return None

    def alt_for(ref: str, transition: bool = True) -> str:
        if transition:
            return {"A": "G", "G": "A", "C": "T", "T": "C"}[ref]
        return str(rng.choice([b for b in "ACGT" if b != ref]))

    hot_rows = []
    for gene, change, exon_index in HOTSPOTS:
        gene_exons = exons[exons["gene"] == gene].sort_values("start")
        ex = gene_exons.iloc[exon_index % len(gene_exons)]
        pos1 = pick_position(ex.chrom, int(ex.start), int(ex.end))
        assert pos1 is not None  # hotspots are placed first, on empty exons
        ref = chr(seq[offsets[ex.chrom] + pos1 - 1])
        hot_rows.append((ex.chrom, pos1, ref, alt_for(ref, transition=rng.random() < 0.7),
                         gene, change))
    hotspots = pd.DataFrame(hot_rows, columns=["chrom", "pos", "ref", "alt", "gene",
                                               "protein_change"])

    def random_target_positions(n: int) -> list[tuple[str, int, str]]:
        widths = (targets["end"] - targets["start"]).to_numpy().astype(float)
        out = []
        while len(out) < n:
            t = targets.iloc[int(rng.choice(len(targets), p=widths / widths.sum()))]
            pos1 = pick_position(t.chrom, int(t.start), int(t.end))
            if pos1 is not None:
                out.append((t.chrom, pos1, t.gene))
        return out

    snp_rows = []
    for chrom, pos1, gene in random_target_positions(N_SNP_POOL):
        ref = chr(seq[offsets[chrom] + pos1 - 1])
        snp_rows.append((chrom, pos1, ref, alt_for(ref, transition=rng.random() < 0.67), gene))
    snp_pool = pd.DataFrame(snp_rows, columns=["chrom", "pos", "ref", "alt", "gene"])

    noisy_rows = []
    for chrom, pos1, _gene in random_target_positions(N_NOISY_SITES):
        ref = chr(seq[offsets[chrom] + pos1 - 1])
        rate = float(np.round(rng.uniform(0.003, 0.02), 4))
        noisy_rows.append((chrom, pos1, ref, alt_for(ref, transition=False), rate))
    noisy = pd.DataFrame(noisy_rows, columns=["chrom", "pos", "ref", "alt", "error_rate"])
    key = {n: i for i, n in enumerate(names)}
    for frame in (hotspots, snp_pool, noisy):
        frame.sort_values(["chrom", "pos"], key=lambda c: c.map(key) if c.name == "chrom" else c,
                          inplace=True)
        frame.reset_index(drop=True, inplace=True)

    genome = Genome(names=names, lengths=lengths, centromeres=centromeres, offsets=offsets,
                    seq=seq, gc_cum=gc_cum, genes=genes, exons=exons, targets=targets,
                    hotspots=hotspots, snp_pool=snp_pool, noisy=noisy)
    # Hotspot alts that change the protein of the transcript model (annotation.py); this may
    # rewrite up to two bases of a hotspot's codon. GC stays counted on the sequence before it
    # (a few bases of 24 Mb): the reads' GC-weighted draws, and so every read, stay as they were.
    from .annotation import driver_hotspots

    return dataclasses.replace(genome, hotspots=driver_hotspots(genome))


def target_free_positions(genome: Genome, rng: np.random.Generator, n: int,
                          exclude: set[tuple[str, int]], genic_only: bool = True,
                          avoid_genes: tuple[str, ...] = ("ERBB2",)
                          ) -> list[tuple[str, int, str]]:
    """``n`` distinct 1-based positions inside capture targets (on gene exons when
    ``genic_only``; never in ``avoid_genes``, so that the only somatic ERBB2 variants are the
    named hotspots the HER2 burden is defined on), at least TARGET_MARGIN bp from target ends and
    4 bp from anything in ``exclude``. Returns (chrom, pos, gene) tuples; ``exclude`` is updated."""
    chroms, starts, ends, genes, cum = genome.target_arrays(tuple(avoid_genes), genic_only)
    out = []
    while len(out) < n:
        k = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        chrom = chroms[k]
        pos1 = int(rng.integers(int(starts[k]) + TARGET_MARGIN,
                                int(ends[k]) - TARGET_MARGIN)) + 1
        if any((chrom, pos1 + d) in exclude for d in range(-4, 5)):
            continue
        exclude.add((chrom, pos1))
        out.append((chrom, pos1, genes[k]))
    return out


def write_fasta(genome: Genome, path, width: int = 60) -> None:
    """Write the genome as FASTA with ``width`` bases per line (fast: one reshape per contig)."""
    from ..io import atomic_open

    with atomic_open(path, "wb") as handle:
        for name in genome.names:
            handle.write(f">{name}\n".encode())
            contig = genome.contig_seq(name)
            full = contig.size // width * width
            block = np.empty((full // width, width + 1), dtype=np.uint8)
            block[:, :width] = contig[:full].reshape(-1, width)
            block[:, width] = ord("\n")
            handle.write(block.tobytes())
            if full < contig.size:
                handle.write(contig[full:].tobytes() + b"\n")
