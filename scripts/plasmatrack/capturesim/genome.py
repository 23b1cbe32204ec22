"""Reference genome, genes and capture panel of the capture-panel simulator.

The genome is one concatenated array of base codes (A=0, C=1, G=2, T=3) with per-contig offsets;
every coordinate inside this package is a 0-based *global* position in that array unless a name
says otherwise. Contig lengths are whole kilobases so that the 1-kb copy-number grid of
``tumour.py`` never straddles two contigs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
GRID = 1000  # bp per copy-number grid cell (contig lengths are multiples of it)

# Genes and the contig (0-based index) they sit on. ERBB2's neighbours are placed right beside it,
# in this order, as on 17q12; the other genes are placed at random on their contig.
HER2_BLOCK = ("PGAP3", "ERBB2", "GRB7")
HER2_CONTIG = 4
OTHER_GENES = {
    "TP53": 4, "PIK3CA": 1, "ESR1": 2, "MYC": 6, "CCND1": 7, "FGFR1": 6, "AKT1": 7, "PTEN": 7,
    "CDH1": 5, "GATA3": 7, "KRAS": 3, "BRCA1": 4, "BRCA2": 3, "CDK4": 3, "MDM2": 3,
    "EGFR": 0, "ERBB3": 3, "MAP3K1": 0,
}


@dataclass
class Genome:
    """Concatenated reference: names, lengths, offsets (global start of each contig), ``seq`` base
    codes, ``gc_cum`` (number of G/C bases before each position, length total + 1), the
    centromere (arm boundary, global) of each contig and the isochore blocks (global start, end,
    GC)."""

    names: list[str]
    lengths: np.ndarray
    offsets: np.ndarray
    seq: np.ndarray
    gc_cum: np.ndarray
    centromeres: np.ndarray
    isochores: pd.DataFrame

    @property
    def total(self) -> int:
        return int(self.lengths.sum())

    def contig_of(self, pos: np.ndarray) -> np.ndarray:
        """Contig index of global positions."""
        return np.searchsorted(self.offsets, pos, side="right") - 1

    def to_local(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(contig index, 0-based contig coordinate) of global positions."""
        idx = self.contig_of(np.asarray(pos))
        return idx, np.asarray(pos) - self.offsets[idx]


def make_genome(rng: np.random.Generator, n_contigs: int, contig_mb: float) -> Genome:
    """Random sequence in isochore-like blocks of 50-300 kb whose GC content is drawn from
    35-60%, so that per-sample GC bias moves read depth between blocks of one contig."""
    lengths = np.round(contig_mb * 1e6 * rng.uniform(0.85, 1.15, n_contigs) / GRID).astype(np.int64)
    lengths = np.maximum(lengths, 200) * GRID
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    # Isochores: block boundaries drawn along the whole genome, plus every contig start.
    cuts = [0]
    while cuts[-1] < total:
        cuts.append(cuts[-1] + int(rng.integers(50_000, 300_001)))
    bounds = np.unique(np.clip(np.concatenate([cuts, offsets, [total]]), 0, total))
    gc = rng.uniform(0.35, 0.60, len(bounds) - 1)
    p_gc = np.repeat(gc, np.diff(bounds)).astype(np.float32)
    is_gc = rng.random(total, dtype=np.float32) < p_gc
    coin = rng.integers(0, 2, total, dtype=np.uint8)
    # GC -> C (1) or G (2); AT -> A (0) or T (3).
    seq = np.where(is_gc, 1 + coin, 3 * coin).astype(np.uint8)
    gc_cum = np.zeros(total + 1, dtype=np.int32)
    np.cumsum(is_gc, out=gc_cum[1:])
    centromeres = offsets + (lengths * rng.uniform(0.35, 0.55, n_contigs) // GRID) * GRID
    isochores = pd.DataFrame({"start": bounds[:-1], "end": bounds[1:], "gc": gc})
    names = [f"chr{i + 1}" for i in range(n_contigs)]
    return Genome(names, lengths, offsets, seq, gc_cum, centromeres, isochores)


def place_genes(rng: np.random.Generator, genome: Genome) -> pd.DataFrame:
    """Gene spans (global start, end, contig) of 15-60 kb, at least 20 kb apart and (up to)
    100 kb from a contig end. The HER2 block is laid out contiguously with 5-20 kb gaps."""
    n = len(genome.names)
    wanted: list[tuple[str, int]] = [(g, HER2_CONTIG % n) for g in HER2_BLOCK]
    wanted += [(g, c % n) for g, c in OTHER_GENES.items()]
    taken: list[tuple[int, int]] = []
    rows = []

    def free(lo: int, hi: int) -> bool:
        return all(hi + 20_000 <= a or lo >= b + 20_000 for a, b in taken)

    # The HER2 block first, at 55-75% of its contig (a q-arm, away from the centromere).
    c = HER2_CONTIG % n
    sizes = rng.integers(15_000, 40_001, len(HER2_BLOCK))
    gaps = rng.integers(5_000, 20_001, len(HER2_BLOCK))
    block = int(sizes.sum() + gaps[:-1].sum())
    pos = int(genome.offsets[c] + genome.lengths[c] * rng.uniform(0.55, 0.75))
    pos = min(pos, int(genome.offsets[c] + genome.lengths[c] * 0.9) - block)  # fits the contig
    for gene, size, gap in zip(HER2_BLOCK, sizes, gaps):
        rows.append((gene, c, pos, pos + int(size)))
        pos += int(size + gap)
    taken.append((rows[0][2], rows[-1][3]))
    for gene, home in wanted[len(HER2_BLOCK):]:
        # On its own contig if there is room, else on the next contig that has some.
        for c in [(home + k) % n for k in range(n)]:
            edge = min(100_000, int(genome.lengths[c]) // 10)
            spot = _free_spot(rng, genome, c, edge, free)
            if spot is not None:
                break
        else:
            raise ValueError(f"no room for gene {gene}: use a larger --contig-mb")
        taken.append(spot)
        rows.append((gene, c, *spot))
    genes = pd.DataFrame(rows, columns=["name", "contig", "start", "end"])
    return genes.sort_values("start").reset_index(drop=True)


def _free_spot(rng, genome: Genome, c: int, edge: int, free) -> tuple[int, int] | None:
    """A random 15-60 kb span on contig ``c``, ``edge`` bp from its ends, that ``free`` allows."""
    for _ in range(200):
        size = int(rng.integers(15_000, 60_001))
        room = int(genome.lengths[c]) - 2 * edge - size
        if room <= 0:
            return None
        lo = int(genome.offsets[c]) + edge + int(rng.integers(0, room))
        if free(lo, lo + size):
            return lo, lo + size
    return None


def make_panel(rng: np.random.Generator, genome: Genome, genes: pd.DataFrame) -> pd.DataFrame:
    """Capture targets: 5-12 exon-like targets of 100-300 bp per gene (at least 200 bp apart) and a
    SNP backbone of 100-160 bp targets every 50-150 kb, each centred on a common SNP site.
    Columns: start, end (global), name (gene or '-'), kind (exon/backbone), snp (global position
    of the backbone's common SNP, -1 for exons)."""
    rows = []
    for gene in genes.itertuples():
        n_slots = (gene.end - gene.start) // 1_500
        n_exons = min(int(rng.integers(5, 13)), n_slots)
        # One exon per 1.5-kb slot, so that exons are at least 200 bp apart.
        slots = np.sort(rng.choice(n_slots, n_exons, replace=False)) * 1_500
        for s in slots:
            size = int(rng.integers(100, 301))
            start = gene.start + int(s) + int(rng.integers(0, 1_500 - size - 200))
            rows.append((start, start + size, gene.name, "exon", -1))
    gene_spans = genes[["start", "end"]].to_numpy()
    for c, (off, length) in enumerate(zip(genome.offsets, genome.lengths)):
        pos = int(off + rng.integers(30_000, 80_000))
        while pos < off + length - 30_000:
            size = int(rng.integers(100, 161))
            near_gene = np.any((pos + size + 2_000 > gene_spans[:, 0])
                               & (pos - 2_000 < gene_spans[:, 1]))
            if not near_gene:
                rows.append((pos, pos + size, "-", "backbone", pos + size // 2))
            pos += int(rng.integers(50_000, 150_001))
    panel = pd.DataFrame(rows, columns=["start", "end", "name", "kind", "snp"])
    return panel.sort_values("start").reset_index(drop=True)


def bed_table(genome: Genome, start: np.ndarray, end: np.ndarray, names) -> pd.DataFrame:
    """A BED table (chrom, start, end, name) from global coordinates."""
    idx, local = genome.to_local(np.asarray(start))
    return pd.DataFrame({
        "chrom": [genome.names[i] for i in idx], "start": local,
        "end": local + (np.asarray(end) - np.asarray(start)), "name": list(names),
    })


def write_fasta(genome: Genome, path) -> None:
    """FASTA with 60-bp lines (written with numpy: a 2-Mb contig takes milliseconds)."""
    with open(path, "wb") as out:
        for name, off, length in zip(genome.names, genome.offsets, genome.lengths):
            out.write(f">{name}\n".encode())
            letters = BASES[genome.seq[off:off + length]]
            full = (length // 60) * 60
            block = np.empty((full // 60, 61), dtype=np.uint8)
            block[:, :60] = letters[:full].reshape(-1, 60)
            block[:, 60] = ord("\n")
            out.write(block.tobytes())
            if length > full:
                out.write(letters[full:].tobytes() + b"\n")
