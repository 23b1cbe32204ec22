"""UMI libraries for ``plasmatrack simulate --umi single|duplex`` (docs/simulator.md, "UMI mode").

Model, per sample (the unique molecules come from ``reads._Sampler`` as without UMIs):
- Each unique molecule is double-stranded; its two strands are amplified separately. The read
  pairs of one strand form a *strand family*. Family sizes: every molecule draws an amplification
  efficiency ``g_m ~ Gamma(MOLECULE_SHAPE)`` (mean 1) and each of its strands ``g_s ~
  Gamma(STRAND_SHAPE)`` (mean 1); the sample's read pairs are shared out multinomially with
  probabilities proportional to ``g_m * g_s``. Marginally a strand's family size is negative
  binomial (Poisson with gamma-mixed mean), with mean ``family_size`` over all strands, sequenced
  or not; strands with no read are lost, as in a real library.
- PCR errors: each read pair descends from its strand through ``pcr_cycles`` duplications. A read's
  ancestry is a random path of one bit per cycle (1: the ancestor at that cycle was the new copy);
  reads sharing a path prefix share the copies along it, so an error made in cycle ``c`` is carried
  by about ``2^-c`` of the family (cycle-1 errors by half of it). Each copy gets
  ``Poisson(pcr_error_rate * fragment length)`` substitutions.
- UMIs: ``single``: one random ``length``-mer per strand family (the strands of a molecule cannot
  be paired); ``duplex``: a molecule draws ``alpha`` and ``beta``; its top-strand (A) pairs carry
  ``alpha+beta`` with read 1 = the top strand's read, its bottom-strand (B) pairs ``beta+alpha``
  with read 1 = the bottom strand's read (R1/R2 swapped). Each UMI base read is substituted with
  probability ``umi_error_rate``. The UMI is the last colon-separated field of the read name, as
  Illumina BCL Convert writes it.
- Sequencing errors in the reads are the simulator's usual quality-driven ones (about 1e-3 per base).

Truth (gzipped TSV, ``truth/umi/<sample>.reads.tsv.gz`` and ``.molecules.tsv.gz``, and one row
per sample in ``truth/umi_samples.tsv``): see ``READ_COLUMNS``, ``MOLECULE_COLUMNS``,
``SUMMARY_COLUMNS`` and docs/simulator.md."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np
import pandas as pd


UMI_MODES = ("none", "single", "duplex")
# Shapes of the two gamma efficiencies: molecule-to-molecule variation (capture, GC, length)
# dominates; the two strands of one molecule differ less (ligation, first-cycle priming).
MOLECULE_SHAPE = 1.5
STRAND_SHAPE = 6.0
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_TO_INDEX = np.zeros(256, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _TO_INDEX[_b] = _i

READ_COLUMNS = ["read_name", "molecule", "strand", "umi_true", "umi_observed", "umi_errors",
                "pcr_errors", "seq_errors", "bases"]
MOLECULE_COLUMNS = ["molecule", "chrom", "start", "end", "source", "reads_a", "reads_b",
                    "umi_a", "umi_b"]
SUMMARY_COLUMNS = ["sample_id", "umi_mode", "umi_length", "read_pairs", "molecules",
                   "strand_families", "duplex_molecules", "families_ge2", "families_ge3",
                   "mean_family_size", "max_family_size", "bases", "seq_errors", "pcr_errors",
                   "raw_error_rate", "umi_bases", "umi_errors"]


@dataclass(frozen=True)
class UmiSimSettings:
    """The UMI library of a simulated cohort (``mode`` none: no UMIs, today's reads)."""

    mode: str = "none"
    length: int = 8
    family_size: float = 4.0  # mean read pairs per strand, sequenced or not
    umi_error_rate: float = 1e-3  # per UMI base read
    pcr_cycles: int = 10
    pcr_error_rate: float = 2e-6  # per base per duplication (high-fidelity polymerase)

    def check(self) -> list[str]:
        """Problems with the settings, as CLI-facing sentences (empty when valid)."""
        problems = []
        if self.mode not in UMI_MODES:
            problems.append(f"--umi must be one of {', '.join(UMI_MODES)} (got {self.mode!r})")
        if not 4 <= self.length <= 24:
            problems.append(f"--umi-length must be between 4 and 24 (got {self.length})")
        if not 1.0 <= self.family_size <= 1000.0:
            problems.append(f"--umi-family-size must be between 1 and 1000 (got "
                            f"{self.family_size})")
        if not 0.0 <= self.umi_error_rate < 0.25 or not 0.0 <= self.pcr_error_rate < 1e-2:
            problems.append("UMI and PCR error rates must be in [0, 0.25) and [0, 0.01)")
        if not 1 <= self.pcr_cycles <= 30:
            problems.append(f"pcr_cycles must be between 1 and 30 (got {self.pcr_cycles})")
        return problems


def molecules_for(settings: UmiSimSettings, read_pairs: int) -> int:
    """Unique (double-stranded) molecules that give ``read_pairs`` at the mean family size."""
    return max(1, int(round(read_pairs / (2.0 * settings.family_size))))


@dataclass
class UmiReads:
    """The read pairs of a UMI library, in FASTQ order (arrays of length read pairs unless
    stated). ``flip`` 1: read 1 is the bottom strand's read (strand B in duplex terms)."""

    molecule: np.ndarray  # index into the sample's unique molecules
    flip: np.ndarray  # int8, the read's strand family: 0 = top (A), 1 = bottom (B)
    true_umi: np.ndarray  # (n, width) uint8, the UMI text as ligated
    name_umi: np.ndarray  # (n, width) uint8, as read (with UMI sequencing errors)
    pcr_read: np.ndarray  # PCR substitutions, sorted by read: read index,
    pcr_offset: np.ndarray  # 0-based offset in the fragment (top-strand sense),
    pcr_shift: np.ndarray  # and base shift 1-3 (A->C->G->T->A)
    pcr_errors: np.ndarray  # per read: PCR-changed fragment bases it reads (filled while reading)
    seq_errors: np.ndarray  # per read: sequencing-changed fragment bases (filled while reading)
    bases: np.ndarray  # per read: fragment bases read by the two mates (filled while reading)
    strand_umis: np.ndarray  # (molecules, 2, length) uint8: the UMI of strand A and of strand B


def _family_sizes(rng: np.random.Generator, n_molecules: int, read_pairs: int) -> np.ndarray:
    """Read pairs per strand, shape (molecules, 2), summing to ``read_pairs``."""
    g_m = rng.gamma(MOLECULE_SHAPE, 1.0 / MOLECULE_SHAPE, n_molecules)
    g_s = rng.gamma(STRAND_SHAPE, 1.0 / STRAND_SHAPE, (n_molecules, 2))
    weight = (g_m[:, None] * g_s).ravel()
    return rng.multinomial(read_pairs, weight / weight.sum()).reshape(n_molecules, 2)


def _random_umis(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _BASES[rng.integers(0, 4, shape)]


def _name_umis(mode: str, strand_umis: np.ndarray, molecule: np.ndarray, flip: np.ndarray
               ) -> np.ndarray:
    """The UMI field of each read: the strand's UMI (single) or ``own+other`` (duplex)."""
    own = strand_umis[molecule, flip]
    if mode == "single":
        return own
    other = strand_umis[molecule, 1 - flip]
    plus = np.full((molecule.size, 1), ord("+"), dtype=np.uint8)
    return np.concatenate([own, plus, other], axis=1)


def _read_errors(rng: np.random.Generator, umis: np.ndarray, rate: float) -> np.ndarray:
    """A copy of ``umis`` with each base (not the ``+``) substituted with probability ``rate``."""
    out = umis.copy()
    hit = (rng.random(out.shape) < rate) & (out != ord("+"))
    out[hit] = _BASES[(_TO_INDEX[out[hit]] + rng.integers(1, 4, int(hit.sum()))) % 4]
    return out


def _pcr_errors(rng: np.random.Generator, family: np.ndarray, frag_length: np.ndarray,
                settings: UmiSimSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCR substitutions inherited by each read: (read index, fragment offset, base shift),
    sorted by read. ``family``: the read's strand family id; ``frag_length`` per read."""
    cycles = settings.pcr_cycles
    path = rng.integers(0, 1 << cycles, family.size, dtype=np.int64)
    reads_i, nodes = [], []
    for c in range(1, cycles + 1):
        prefix = path >> (cycles - c)
        copied = np.flatnonzero(prefix & 1)  # the ancestor at cycle c was made in cycle c
        reads_i.append(copied)
        nodes.append((family[copied] * (cycles + 1) + c) << cycles | prefix[copied])
    reads_all = np.concatenate(reads_i)
    node_key, node_of = np.unique(np.concatenate(nodes), return_inverse=True)
    # the copy's length: that of any of its reads (all reads of a family share the fragment)
    node_len = np.zeros(node_key.size, dtype=np.int64)
    node_len[node_of] = frag_length[reads_all]
    n_err = rng.poisson(settings.pcr_error_rate * node_len)
    err_node = np.repeat(np.arange(node_key.size), n_err)
    err_offset = np.floor(rng.random(err_node.size) * node_len[err_node]).astype(np.int64)
    err_shift = rng.integers(1, 4, err_node.size).astype(np.uint8)
    # every read under an erroneous copy inherits its errors
    first = np.searchsorted(err_node, node_of, side="left")
    count = np.searchsorted(err_node, node_of, side="right") - first
    has = count > 0
    rows = np.repeat(reads_all[has], count[has])
    idx = np.concatenate([np.arange(a, a + k) for a, k in zip(first[has], count[has])]) \
        if has.any() else np.zeros(0, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    return rows[order], err_offset[idx][order], err_shift[idx][order]


def plan_reads(rng: np.random.Generator, settings: UmiSimSettings, read_pairs: int,
               frag_length: np.ndarray) -> UmiReads:
    """The read pairs of a UMI library over the unique molecules with lengths ``frag_length``
    (shuffled into FASTQ order)."""
    n_mol = frag_length.size
    sizes = _family_sizes(rng, n_mol, read_pairs)
    family = np.repeat(np.arange(2 * n_mol), sizes.ravel())
    family = family[rng.permutation(family.size)]
    molecule, flip = family // 2, (family % 2).astype(np.int8)
    strand_umis = _random_umis(rng, (n_mol, 2, settings.length))
    true_umi = _name_umis(settings.mode, strand_umis, molecule, flip)
    name_umi = _read_errors(rng, true_umi, settings.umi_error_rate)
    pcr_read, pcr_offset, pcr_shift = _pcr_errors(rng, family, frag_length[molecule], settings)
    zeros = np.zeros(family.size, dtype=np.int32)
    return UmiReads(molecule=molecule, flip=flip, true_umi=true_umi, name_umi=name_umi,
                    pcr_read=pcr_read, pcr_offset=pcr_offset, pcr_shift=pcr_shift,
                    pcr_errors=zeros.copy(), seq_errors=zeros.copy(), bases=zeros.copy(),
                    strand_umis=strand_umis)


def _shift_base(bases: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return _BASES[(_TO_INDEX[bases] + shift) % 4]


def apply_pcr_errors(plan: UmiReads, c0: int, top: np.ndarray, bot: np.ndarray,
                     frag_len: np.ndarray, covered: np.ndarray, inside: np.ndarray,
                     complement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Write the PCR substitutions of reads ``c0 .. c0 + len(top)`` into their top- and
    bottom-strand reads (both mates of a pair come from the same double-stranded copy) and
    record the fragment bases read (``inside``: the (n, read length) mask of bases from the
    fragment, not the adapter) and how many of them PCR changed. Returns copies of the amplified
    reads, for ``count_seq_errors``."""
    clean = (top.copy(), bot.copy())
    lo, hi = np.searchsorted(plan.pcr_read, [c0, c0 + top.shape[0]])
    rows = plan.pcr_read[lo:hi] - c0
    off, shift = plan.pcr_offset[lo:hi], plan.pcr_shift[lo:hi]
    ok = off < covered[rows]
    top[rows[ok], off[ok]] = _shift_base(top[rows[ok], off[ok]], shift[ok])
    jb = frag_len[rows] - 1 - off
    ok = (jb >= 0) & (jb < covered[rows])
    sense = complement[bot[rows[ok], jb[ok]]]
    bot[rows[ok], jb[ok]] = complement[_shift_base(sense, shift[ok])]
    sel = slice(c0, c0 + top.shape[0])
    plan.bases[sel] = 2 * inside.sum(axis=1)
    plan.pcr_errors[sel] = ((clean[0] != top) & inside).sum(axis=1) + (
        (clean[1] != bot) & inside).sum(axis=1)
    return top.copy(), bot.copy()


def count_seq_errors(plan: UmiReads, c0: int, inside: np.ndarray,
                     amplified: tuple[np.ndarray, np.ndarray], r1: np.ndarray, r2: np.ndarray,
                     flip: np.ndarray) -> None:
    """Record per read pair the fragment bases that sequencing changed: the reads as written
    (``r1``, ``r2``; ``flip``: read 1 is the bottom strand's) against the amplified top- and
    bottom-strand reads."""
    final_top = np.where(flip[:, None], r2, r1)
    final_bot = np.where(flip[:, None], r1, r2)
    plan.seq_errors[c0:c0 + r1.shape[0]] = ((final_top != amplified[0]) & inside).sum(axis=1) + (
        (final_bot != amplified[1]) & inside).sum(axis=1)


def name_suffix(plan: UmiReads, c0: int, n: int) -> np.ndarray:
    """``:UMI`` for reads ``c0 .. c0 + n``, as a byte matrix appended to the read names."""
    umi = plan.name_umi[c0:c0 + n]
    colon = np.full((umi.shape[0], 1), ord(":"), dtype=np.uint8)
    return np.concatenate([colon, umi], axis=1)


def _text(matrix: np.ndarray) -> np.ndarray:
    """Rows of a uint8 matrix as Python strings."""
    width = matrix.shape[1]
    return np.frombuffer(np.ascontiguousarray(matrix).tobytes(), dtype=f"S{width}").astype(str)


def read_table(plan: UmiReads, sample_id: str) -> pd.DataFrame:
    """truth/umi/<sample>.reads.tsv.gz: one row per read pair, in FASTQ order."""
    errors = (plan.true_umi != plan.name_umi).sum(axis=1)
    names = [f"{sample_id}:{i:010d}" for i in range(plan.molecule.size)]
    return pd.DataFrame(dict(
        read_name=names, molecule=plan.molecule, strand=np.where(plan.flip == 1, "B", "A"),
        umi_true=_text(plan.true_umi), umi_observed=_text(plan.name_umi), umi_errors=errors,
        pcr_errors=plan.pcr_errors, seq_errors=plan.seq_errors, bases=plan.bases),
        columns=READ_COLUMNS)


def molecule_table(plan: UmiReads, chrom: np.ndarray, start: np.ndarray, end: np.ndarray,
                   source: np.ndarray) -> pd.DataFrame:
    """truth/umi/<sample>.molecules.tsv.gz: every unique molecule (sequenced or not), 0-based
    half-open fragment coordinates on ``chrom``, read pairs per strand and strand UMIs."""
    sizes = np.zeros((start.size, 2), dtype=np.int64)
    np.add.at(sizes, (plan.molecule, plan.flip), 1)
    return pd.DataFrame(dict(
        molecule=np.arange(start.size), chrom=chrom, start=start, end=end,
        source=np.where(source == 1, "tumour", "normal"), reads_a=sizes[:, 0],
        reads_b=sizes[:, 1], umi_a=_text(plan.strand_umis[:, 0]),
        umi_b=_text(plan.strand_umis[:, 1])), columns=MOLECULE_COLUMNS)


def summary_row(plan: UmiReads, settings: UmiSimSettings, sample_id: str) -> dict:
    """The sample's row of truth/umi_samples.tsv (families are strand families)."""
    sizes = np.zeros((plan.strand_umis.shape[0], 2), dtype=np.int64)
    np.add.at(sizes, (plan.molecule, plan.flip), 1)
    fam = sizes[sizes > 0]
    umi_bases = int((plan.true_umi != ord("+")).sum())
    bases = int(plan.bases.sum())
    seq, pcr = int(plan.seq_errors.sum()), int(plan.pcr_errors.sum())
    return dict(
        sample_id=sample_id, umi_mode=settings.mode, umi_length=settings.length,
        read_pairs=int(plan.molecule.size), molecules=int((sizes.sum(axis=1) > 0).sum()),
        strand_families=int(fam.size), duplex_molecules=int((sizes > 0).all(axis=1).sum()),
        families_ge2=int((fam >= 2).sum()), families_ge3=int((fam >= 3).sum()),
        mean_family_size=float(fam.mean()) if fam.size else 0.0,
        max_family_size=int(fam.max()) if fam.size else 0, bases=bases, seq_errors=seq,
        pcr_errors=pcr, raw_error_rate=(seq + pcr) / bases if bases else 0.0,
        umi_bases=umi_bases, umi_errors=int((plan.true_umi != plan.name_umi).sum()))


def write_truth(plan: UmiReads, settings: UmiSimSettings, genome, sample_id: str,
                molecules: tuple[np.ndarray, np.ndarray, np.ndarray], prefix: str | None
                ) -> dict:
    """Write the sample's read and molecule truth to ``prefix + ".reads.tsv.gz"`` and
    ``".molecules.tsv.gz"`` (nothing when ``prefix`` is None); return its summary row.
    ``molecules``: global 0-based start, end and source (1 tumour) of the unique molecules."""
    if prefix is not None:
        start, end, source = molecules
        ends = genome.contig_ends()
        contig = np.searchsorted(ends, start, side="right")
        names = np.asarray(genome.names, dtype=object)
        offset = np.asarray([genome.offsets[n] for n in genome.names], dtype=np.int64)[contig]
        write_gz_table(read_table(plan, sample_id), f"{prefix}.reads.tsv.gz")
        write_gz_table(molecule_table(plan, names[contig], start - offset, end - offset, source),
                       f"{prefix}.molecules.tsv.gz")
    return summary_row(plan, settings, sample_id)


def write_gz_table(frame: pd.DataFrame, path) -> None:
    """A gzipped TSV, deterministic (no name or time in the gzip header), written atomically by
    the caller's temporary cohort folder."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                compresslevel=1, mtime=0) as handle:
        handle.write(frame.to_csv(sep="\t", index=False).encode())
