#!/usr/bin/env python
"""Alignment throughput: read pairs per second of the pipeline's align step on this machine.

Baseline: ``bwa mem -Y`` alone (output discarded). Ours: the align rule's full command
(bwa mem -Y with a read group | samtools fixmate -m | samtools sort | samtools markdup), same
threads, same reads, same run. Prints pairs/s of each and the ratio ours / baseline time.

Reads: ``--fastq R1 R2`` (e.g. a simulated demo sample), or synthetic cfDNA-like 2 x 100 bp pairs
from a random genome with GC blocks (``make_reads``; also used by bench_qc.py).

    .venv/bin/python benchmarks/bench_align.py [--pairs 200000] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

_COMP = np.frombuffer(b"TGCA", dtype=np.uint8)  # complement of A C G T (codes 0-3)
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def make_genome(path: Path, rng: np.random.Generator, contigs: int = 3,
                length: int = 2_000_000) -> dict[str, np.ndarray]:
    """Random contigs (base codes 0-3) with GC content varying in 50 kb blocks (35-60%)."""
    genome = {}
    with open(path, "w") as out:
        for i in range(contigs):
            gc = np.repeat(rng.uniform(0.35, 0.60, length // 50_000 + 1), 50_000)[:length]
            strong = rng.random(length) < gc
            codes = np.where(strong, rng.choice([1, 2], length), rng.choice([0, 3], length))
            codes = codes.astype(np.uint8)
            name = f"chr{i + 1}"
            genome[name] = codes
            seq = _BASES[codes].tobytes().decode()
            out.write(f">{name}\n")
            out.writelines(seq[j:j + 60] + "\n" for j in range(0, length, 60))
    return genome


def fragment_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """cfDNA-like lengths: mode ~167 bp, 15% a shorter class, a 10.4 bp ripple below 150 bp
    (rejection sampling)."""
    out = np.empty(0, dtype=float)
    while len(out) < n:
        draw = np.where(rng.random(2 * n) < 0.85, rng.normal(167, 14, 2 * n),
                        rng.normal(145, 18, 2 * n))
        accept = np.where(draw < 150, 0.7 + 0.3 * np.cos(2 * np.pi * (draw - 167) / 10.4), 1.0)
        out = np.concatenate([out, draw[rng.random(2 * n) < accept]])
    return np.clip(np.round(out[:n]), 100, 400).astype(np.int64)


def make_reads(folder: Path, pairs: int, seed: int = 1, read_len: int = 100,
               duplicate_rate: float = 0.1, error_rate: float = 0.002) -> tuple[Path, Path, Path]:
    """Write genome.fa and R1/R2 FASTQ.gz of ``pairs`` pairs (``duplicate_rate`` of them exact
    PCR copies) in ``folder``; returns (fasta, r1, r2)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    fasta = folder / "genome.fa"
    genome = make_genome(fasta, rng)
    names = list(genome)
    unique = int(pairs * (1 - duplicate_rate))
    contig = rng.integers(0, len(names), unique)
    lengths = fragment_lengths(rng, unique)
    starts = np.array([rng.integers(0, len(genome[names[c]]) - 400) for c in contig])
    copies = rng.integers(0, unique, pairs - unique)
    order = rng.permutation(np.concatenate([np.arange(unique), copies]))
    offsets = np.arange(read_len)
    r1_path, r2_path = folder / "r1.fq.gz", folder / "r2.fq.gz"
    qual = b"I" * read_len
    with (gzip.open(r1_path, "wb", compresslevel=1) as r1,
          gzip.open(r2_path, "wb", compresslevel=1) as r2):
        for chunk in np.array_split(order, max(1, pairs // 50_000)):
            seq1 = np.empty((len(chunk), read_len), dtype=np.uint8)
            seq2 = np.empty_like(seq1)
            for c in range(len(names)):
                rows = np.flatnonzero(contig[chunk] == c)
                idx = chunk[rows]
                codes = genome[names[c]]
                seq1[rows] = codes[starts[idx, None] + offsets]
                ends = starts[idx] + lengths[idx]
                seq2[rows] = 3 - codes[ends[:, None] - 1 - offsets]
            for seq in (seq1, seq2):
                errors = rng.random(seq.shape) < error_rate
                seq[errors] = (seq[errors] + rng.integers(1, 4, errors.sum())) % 4
            text1, text2 = _BASES[seq1], _BASES[seq2]
            for k, template in enumerate(chunk):
                name = f"@f{template}_{k}".encode()
                r1.write(b"%s\n%s\n+\n%s\n" % (name, text1[k].tobytes(), qual))
                r2.write(b"%s\n%s\n+\n%s\n" % (name, text2[k].tobytes(), qual))
    return fasta, r1_path, r2_path


def align_command(fasta: Path, r1: Path, r2: Path, out_bam: Path, tmp: Path, threads: int) -> str:
    """The align rule's command (workflow/rules/align.smk), for one sample."""
    return (
        f"set -o pipefail; bwa mem -Y -t {threads} -R '@RG\\tID:s\\tSM:s' {fasta} {r1} {r2} "
        f"2>/dev/null | samtools fixmate -m -u - - | samtools sort -u -@ {threads} -m 500M "
        f"-T {tmp}/sort -o {tmp}/sorted.bam - 2>/dev/null && samtools markdup -s -@ {threads} "
        f"{tmp}/sorted.bam {out_bam} 2>/dev/null && samtools index {out_bam}"
    )


def aligned_bam(folder: Path, pairs: int, threads: int = 2, seed: int = 1) -> Path:
    """A duplicate-marked, indexed BAM of synthetic cfDNA pairs (cached in ``folder``)."""
    bam = folder / f"synthetic_{pairs}.bam"
    if bam.exists() and Path(f"{bam}.bai").exists():
        return bam
    fasta, r1, r2 = make_reads(folder, pairs, seed=seed)
    subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
    subprocess.run(["bash", "-c", align_command(fasta, r1, r2, bam, folder, threads)], check=True)
    return bam


def _time(cmd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["bash", "-c", cmd], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fastq", nargs=2, metavar=("R1", "R2"))
    parser.add_argument("--fasta", help="reference for --fastq (bwa-indexed or indexed here)")
    parser.add_argument("--workdir", help="keep files here (default: a temporary folder)")
    args = parser.parse_args()
    for tool in ("bwa", "samtools"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    with tempfile.TemporaryDirectory() as tmpdir:
        work = Path(args.workdir or tmpdir)
        work.mkdir(parents=True, exist_ok=True)
        if args.fastq:
            r1, r2 = map(Path, args.fastq)
            fasta = work / "ref.fa"
            shutil.copy(args.fasta, fasta)
            with gzip.open(r1, "rt") as handle:
                pairs = sum(1 for _ in handle) // 4
        else:
            fasta, r1, r2 = make_reads(work, args.pairs)
            pairs = args.pairs
        subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
        base_cmd = f"bwa mem -Y -t {args.threads} {fasta} {r1} {r2} 2>/dev/null > /dev/null"
        ours_cmd = align_command(fasta, r1, r2, work / "out.bam", work, args.threads)
        base, ours = [], []
        for _ in range(args.repeats):  # alternate, so machine load hits both alike
            base.append(_time(base_cmd))
            ours.append(_time(ours_cmd))
        (bw, bc), (ow, oc) = min(base), min(ours)
        print(f"read pairs: {pairs}, threads: {args.threads}, best of {args.repeats}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'':38s} {'wall s':>7s} {'pairs/s':>8s} {'CPU s':>7s} {'pairs/CPU-s':>11s}")
        for label, wall, cpu in (("baseline bwa mem -Y alone", bw, bc),
                                 ("ours bwa|fixmate|sort|markdup|index", ow, oc)):
            print(f"{label:38s} {wall:7.2f} {pairs / wall:8.0f} {cpu:7.2f} {pairs / cpu:11.0f}")
        print(f"ratio ours/baseline: wall {ow / bw:.2f}, CPU {oc / bc:.2f}")

if __name__ == "__main__":
    main()
