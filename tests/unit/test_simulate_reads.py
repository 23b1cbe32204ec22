"""The simulator's reads, checked without an aligner: alleles counted with 25-mers around each
truth variant, fragment lengths recovered from the overlap of the two mates, PCR duplicates from
identical read starts. Plus determinism, idempotence and refusal of a different cohort."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from plasmatrack.errors import InputError
from plasmatrack.io import read_tsv
from plasmatrack.sheets import load_samples
from plasmatrack.simulate import SimulateSettings, simulate_cohort
from plasmatrack.simulate.reads import LENGTHS, cfdna_pmf, pmf_mode, sheared_pmf

PARAMS = SimulateSettings(seed=7, patients=1, read_pairs=30_000)
K = 25
_CODE = np.full(256, 4, dtype=np.uint64)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
_COMP = bytes.maketrans(b"ACGTN", b"TGCAN")


def _quiet(*_args):
    pass


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reads") / "cohort"
    simulate_cohort(out, PARAMS, threads=2, log=_quiet)
    return out


@pytest.fixture(scope="module")
def genome(cohort) -> dict[str, str]:
    seqs: dict[str, list[str]] = {}
    for line in open(cohort / "reference" / "genome.fa"):
        line = line.rstrip("\n")
        if line.startswith(">"):
            name = line[1:]
            seqs[name] = []
        else:
            seqs[name].append(line)
    return {k: "".join(v) for k, v in seqs.items()}


def _fastq(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sequences, qualities) as (n, 100) uint8 matrices."""
    lines = gzip.open(path).read().split(b"\n")
    seqs = np.frombuffer(b"".join(lines[1::4]), dtype=np.uint8).reshape(-1, 100)
    quals = np.frombuffer(b"".join(lines[3::4]), dtype=np.uint8).reshape(-1, 100)
    return seqs, quals


def _kmer_hashes(seqs: np.ndarray) -> np.ndarray:
    """(n, 100 - K + 1) 2-bit hashes of every K-mer (N-containing ones get a sentinel)."""
    code = _CODE[seqs]
    n, length = code.shape
    out = np.empty((n, length - K + 1), dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    bad = np.zeros(n, dtype=np.int64)  # position of the last non-ACGT base
    last_bad = np.full(n, -1, dtype=np.int64)
    mask = np.uint64((1 << (2 * K)) - 1)
    for i in range(length):
        c = code[:, i]
        is_bad = c == 4
        last_bad = np.where(is_bad, i, last_bad)
        h = ((h << np.uint64(2)) | (c & np.uint64(3))) & mask
        if i >= K - 1:
            bad = last_bad > i - K
            out[:, i - K + 1] = np.where(bad, np.uint64(1 << 62), h)
    return out


def _hash(kmer: str) -> int:
    h = 0
    for ch in kmer:
        h = (h << 2) | "ACGT".index(ch)
    return h


def _revcomp(s: str) -> str:
    return s.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _allele_kmers(genome, chrom, pos, ref, alt) -> tuple[str, str]:
    """The K-mers starting 12 bp left of the variant, with the ref and with the alt allele."""
    p = pos - 1
    left = genome[chrom][p - 12:p]
    right = genome[chrom][p + len(ref):p + len(ref) + K]
    return (left + ref + right)[:K], (left + alt + right)[:K]


def _count_pairs(r1: np.ndarray, r2: np.ndarray, labels: dict[int, int], n_labels: int
                 ) -> np.ndarray:
    """Per label, the number of read pairs with at least one read holding a K-mer of it."""
    keys = np.fromiter(labels.keys(), dtype=np.uint64)
    vals = np.fromiter(labels.values(), dtype=np.int64)
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    hits = []
    for reads in (r1, r2):
        h = _kmer_hashes(reads)
        found = np.isin(h, keys)
        rows, cols = np.nonzero(found)
        lab = vals[np.searchsorted(keys, h[rows, cols])]
        hits.append(rows.astype(np.int64) * n_labels + lab)
    pairs = np.unique(np.concatenate(hits))
    return np.bincount(pairs % n_labels, minlength=n_labels)


def test_sheet_points_at_real_fastqs(cohort):
    samples = load_samples(cohort / "samples.tsv", check_files=True)
    truth = read_tsv(cohort / "truth" / "samples.tsv").set_index("sample_id")
    for row in samples.itertuples():
        n1 = sum(1 for _ in gzip.open(row.fastq_1)) // 4
        n2 = sum(1 for _ in gzip.open(row.fastq_2)) // 4
        assert n1 == n2 == truth.loc[row.sample_id, "read_pairs"]


def test_observed_vaf_matches_expected(cohort, genome):
    truth = read_tsv(cohort / "truth" / "variants.tsv", keep_default_na=False)
    sites = truth.drop_duplicates(["chrom", "pos", "ref", "alt"]).sort_values(["chrom", "pos"])
    # variants whose K-mers would hold another variant are left out of the count
    keep = []
    for r in sites.itertuples():
        near = sites[(sites["chrom"] == r.chrom) & ((sites["pos"] - r.pos).abs() < K + 5)]
        keep.append(len(near) == 1)
    sites = sites[keep].reset_index(drop=True)
    labels: dict[int, int] = {}
    for i, r in enumerate(sites.itertuples()):
        for allele, kmer in enumerate(_allele_kmers(genome, r.chrom, r.pos, r.ref, r.alt)):
            labels[_hash(kmer)] = 2 * i + allele
            labels[_hash(_revcomp(kmer))] = 2 * i + allele
    z_all, n_tested = [], 0
    samples = read_tsv(cohort / "truth" / "samples.tsv").set_index("sample_id")
    for sid, part in truth.groupby("sample_id"):
        r1, _ = _fastq(cohort / "fastq" / f"{sid}_R1.fastq.gz")
        r2, _ = _fastq(cohort / "fastq" / f"{sid}_R2.fastq.gz")
        counts = _count_pairs(r1, r2, labels, 2 * len(sites))
        ref_n, alt_n = counts[0::2], counts[1::2]
        expected = part.set_index(["chrom", "pos", "alt"])["expected_vaf"]
        inflation = 1 + 3 * samples.loc[sid, "duplicate_rate"]  # duplicate families
        for i, r in enumerate(sites.itertuples()):
            p = float(expected.loc[(r.chrom, r.pos, r.alt)])
            n = int(ref_n[i] + alt_n[i])
            if n < 15:
                continue
            if p == 0:
                assert alt_n[i] <= 1, (sid, r)
                continue
            if p >= 1:
                assert ref_n[i] <= 1, (sid, r)
                continue
            z = (alt_n[i] - n * p) / np.sqrt(n * p * (1 - p) * inflation)
            z_all.append(z)
            n_tested += 1
            assert abs(z) < 5.0, (sid, r.chrom, r.pos, r.category, p, alt_n[i], n)
    z_all = np.asarray(z_all)
    assert n_tested >= 40
    # no systematic bias of the observed VAF against the truth, and binomial-sized scatter
    assert abs(z_all.mean()) < 4 / np.sqrt(len(z_all))
    assert 0.5 < z_all.std() < 1.4


def _fragment_lengths(r1: np.ndarray, r2: np.ndarray, lo: int = 110, hi: int = 190
                      ) -> np.ndarray:
    """Fragment length of each pair from the overlap of read 1 and reverse-complemented read 2
    (fragments of ``lo``..``hi`` bp; others come back as 0)."""
    rc2 = np.frombuffer(r2.tobytes().translate(_COMP), dtype=np.uint8).reshape(r2.shape)[:, ::-1]
    best = np.zeros(r1.shape[0], dtype=np.int64)
    best_mm = np.full(r1.shape[0], 99.0)
    for length in range(lo, hi + 1):
        d = length - 100
        mm = (r1[:, d:] != rc2[:, :100 - d]).mean(axis=1)
        better = (mm < 0.05) & (mm < best_mm)
        best[better] = length
        best_mm[better] = mm[better]
    return best


def test_fragment_lengths_and_duplicates(cohort):
    truth = read_tsv(cohort / "truth" / "samples.tsv").set_index("sample_id")
    short_fraction = {}
    for sid, row in truth.iterrows():
        r1, q1 = _fastq(cohort / "fastq" / f"{sid}_R1.fastq.gz")
        r2, _ = _fastq(cohort / "fastq" / f"{sid}_R2.fastq.gz")
        # PCR duplicates: identical first 15 bases of both mates; a sequencing error there
        # (about 3% of copies, mostly at low-quality dips) hides a duplicate
        # (orientation-free, like the truth: the same two ends whichever mate is read 1)
        starts = {tuple(sorted((a.tobytes(), b.tobytes())))
                  for a, b in zip(r1[:, :15], r2[:, :15])}
        n_unique = len(starts)
        observed = 1 - n_unique / r1.shape[0]
        truth_rate = row["position_duplicate_rate"]
        assert 0.93 * truth_rate - 0.008 < observed < truth_rate + 0.008, (sid, observed)
        assert row["position_duplicate_rate"] >= row["duplicate_rate"]
        assert 0.05 <= row["duplicate_rate"] <= 0.25
        lengths = _fragment_lengths(r1, r2)
        found = lengths[lengths > 0]
        if row["sample_type"] == "plasma":
            mode = int(np.bincount(found).argmax())
            assert abs(mode - row["fragment_mode"]) <= 3, (sid, mode, row["fragment_mode"])
            short_fraction[sid] = (found <= 150).mean()
        else:
            # sheared buffy-coat DNA: few fragments short enough for the mates to overlap
            assert len(found) < 0.25 * r1.shape[0]
            assert row["fragment_mode"] > 200
        # base qualities fall along the read
        q = q1.astype(float) - 33
        assert q[:, :10].mean() - q[:, -10:].mean() > 6
    plasma = truth[truth["sample_type"] == "plasma"]
    rich = plasma["tumour_fraction"].idxmax()
    poor = plasma["tumour_fraction"].idxmin()
    if plasma.loc[rich, "tumour_fraction"] > 2 * plasma.loc[poor, "tumour_fraction"] + 0.05:
        assert short_fraction[rich] > short_fraction[poor]


def test_noisy_sites_show_errors(cohort, genome):
    noisy = read_tsv(cohort / "truth" / "noisy_sites.tsv")
    labels: dict[int, int] = {}
    for i, r in enumerate(noisy.itertuples()):
        for allele, kmer in enumerate(_allele_kmers(genome, r.chrom, r.pos, r.ref, r.alt)):
            labels[_hash(kmer)] = 2 * i + allele
            labels[_hash(_revcomp(kmer))] = 2 * i + allele
    alt_total, expected = 0, 0.0
    for f in sorted((cohort / "fastq").glob("*_R1.fastq.gz")):
        r1, _ = _fastq(f)
        # errors are per read: count reads of one mate only
        counts = _count_pairs(r1, r1[:0], labels, 2 * len(noisy))
        alt_total += counts[1::2].sum()
        expected += float(((counts[0::2] + counts[1::2]) * noisy["error_rate"].to_numpy()).sum())
    assert expected > 20
    assert 0.6 * expected < alt_total < 1.5 * expected + 5


def test_pmfs():
    assert pmf_mode(cfdna_pmf(False)) == 167
    assert 148 <= pmf_mode(cfdna_pmf(True)) <= 156
    assert pmf_mode(sheared_pmf()) > 220
    # ~10 bp periodicity below 150 bp: local maxima of the cfDNA pmf spaced 10-11 bp
    pmf = cfdna_pmf(False)
    below = (LENGTHS > 95) & (LENGTHS < 150)
    x, y = LENGTHS[below], pmf[below]
    peaks = x[1:-1][(y[1:-1] > y[:-2]) & (y[1:-1] > y[2:])]
    assert len(peaks) >= 3
    assert np.all(np.abs(np.diff(peaks) - 10.4) <= 1.5)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_per_seed(tmp_path):
    """Same seed and options: byte-identical files, whatever the number of worker processes."""
    small = SimulateSettings(seed=7, patients=1, read_pairs=3_000)
    simulate_cohort(tmp_path / "one", small, threads=1, log=_quiet)
    simulate_cohort(tmp_path / "two", small, threads=2, log=_quiet)
    first = _digest(tmp_path / "one")
    assert len(first) > 15 and first == _digest(tmp_path / "two")
    simulate_cohort(tmp_path / "other", SimulateSettings(seed=8, patients=1, read_pairs=3_000),
                    threads=2, log=_quiet)
    other = _digest(tmp_path / "other")
    assert other["truth/variants.tsv"] != first["truth/variants.tsv"]
    assert other["fastq/P01_D1_R1.fastq.gz"] != first["fastq/P01_D1_R1.fastq.gz"]


def test_idempotent_and_refusals(cohort, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in cohort.rglob("*")}
    messages = []
    simulate_cohort(cohort, PARAMS, log=messages.append)
    assert "nothing to do" in messages[0]
    assert {p: p.stat().st_mtime_ns for p in cohort.rglob("*")} == before
    marker = json.loads((cohort / ".complete").read_text())
    assert marker["seed"] == 7 and marker["read_pairs"] == 30_000

    with pytest.raises(InputError, match="other parameters.*seed"):
        simulate_cohort(cohort, SimulateSettings(seed=9, patients=1, read_pairs=30_000), log=_quiet)
    # a marker written before a parameter existed (healthy_donors) still matches its default
    del marker["healthy_donors"]
    from plasmatrack.simulate.cohort import cohort_state
    marked = tmp_path / "old"
    marked.mkdir()
    (marked / ".complete").write_text(json.dumps(marker))
    assert cohort_state(marked, PARAMS) == "same"
    shutil.rmtree(marked)
    # an unfinished folder (no .complete) is refused too
    half = tmp_path / "half"
    half.mkdir()
    (half / "samples.tsv").write_text("x\n")
    with pytest.raises(InputError, match="no finished cohort"):
        simulate_cohort(half, SimulateSettings(seed=1, patients=1, no_reads=True), log=_quiet)
    # --force replaces it, and leaves no temporary folder behind
    simulate_cohort(half, SimulateSettings(seed=1, patients=1, no_reads=True), force=True,
                    log=_quiet)
    assert (half / ".complete").is_file() and not (half / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half"]
    assert not os.path.exists(half / "fastq")


def test_copy_number_aware_mixing():
    """Coverage follows TF*CN + 2(1-TF) and tumour fragments cover a base with probability
    TF*CN / (TF*CN + 2(1-TF)), whatever their (shorter) lengths; GC bias switched off."""
    from plasmatrack.simulate.genome import build_genome
    from plasmatrack.simulate.reads import SampleInput, _Sampler

    genome = build_genome(3)
    ends = genome.contig_ends()
    starts = ends - np.asarray([genome.lengths[n] for n in genome.names])
    cn = np.where(np.asarray(genome.names) == "chr17", 6, 2)
    tf = 0.4
    inp = SampleInput("X", "plasma", tf, 0, 0.0, 0.5, 0.45, 1e6, starts, ends, cn,
                      np.zeros(0, dtype=np.int64), [], [], np.zeros(0), np.zeros(0), [1, 2, 3])
    sampler = _Sampler(genome, inp, np.random.default_rng(11))
    pos, length, source = sampler.off_target(300_000)
    on17 = (pos >= starts[genome.names.index("chr17")]) & (pos < ends[genome.names.index("chr17")])
    len17 = genome.lengths["chr17"]
    cov17 = length[on17].sum() / len17
    cov_rest = length[~on17].sum() / (genome.size - len17)
    expected_ratio = (tf * 6 + 2 * (1 - tf)) / (tf * 2 + 2 * (1 - tf))
    assert cov17 / cov_rest == pytest.approx(expected_ratio, rel=0.03)
    # share of coverage by tumour DNA on chr17 and elsewhere
    t17 = length[on17 & (source == 1)].sum() / length[on17].sum()
    t_rest = length[~on17 & (source == 1)].sum() / length[~on17].sum()
    assert t17 == pytest.approx(tf * 6 / (tf * 6 + 2 * (1 - tf)), abs=0.01)
    assert t_rest == pytest.approx(tf * 2 / (tf * 2 + 2 * (1 - tf)), abs=0.01)
    # tumour fragments are shorter, so they outnumber their coverage share
    assert (source[~on17] == 1).mean() > t_rest + 0.02
    assert np.median(length[source == 1]) < np.median(length[source == 0]) - 10
