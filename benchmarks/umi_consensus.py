#!/usr/bin/env python
"""UMI consensus speed and memory (issue 20), each against a baseline in the same run.

Reads: duplex read pairs generated here (fragments of 150-300 bp; each strand of a molecule
1 + Poisson(3) pairs of 2 x 100 bp; 1e-3 base errors; 1 % of pairs with a UMI base error; 6+6-nt
UMIs in the read names, BCL Convert style) from ``--genome``: ``random`` (one random 2 Mb contig:
bwa's fastest case) or ``simulator`` (the demo's 40 Mb genome, ``plasmatrack simulate``'s
``build_genome(1)``, with its GC blocks, low-complexity stretches and repeat copies: the
genome the pipeline's own align benchmark measured bwa on).

- CPU: ``plasmatrack consensus --umi-mode duplex`` (process CPU, Python start included) over
  ``bwa mem -t 1`` on the same reads (goal <= 0.5x); also with ``--reference`` (error rates).
- Memory: peak RSS of the consensus at ``--scale`` x the molecules (same genome, so ``--scale`` x
  the depth) over that at 1x (goal within 20 %).
- ``umi_tools group --paired`` on the same BAM (``--umi-tools``: its executable, e.g. from a
  separate venv: ``pip install --no-build-isolation umi_tools``): CPU and peak RSS.

    .venv/bin/python benchmarks/umi_consensus.py [--molecules 5000] [--scale 10] \\
        [--genome random|simulator] [--umi-tools /tmp/umitools-venv/bin/umi_tools]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

READ = 100
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_COMP = np.array([3, 2, 1, 0])


def _text(codes: np.ndarray) -> str:
    return _BASES[codes].tobytes().decode()


def write_genome(path: Path, rng: np.random.Generator, length: int = 2_000_000
                 ) -> dict[str, np.ndarray]:
    """One random contig (base codes 0-3) written as FASTA."""
    genome = rng.integers(0, 4, length)
    with open(path, "w") as out:
        out.write(">chr1\n")
        text = _text(genome)
        for i in range(0, length, 80):
            out.write(text[i:i + 80] + "\n")
    return {"chr1": genome}


def write_simulator_genome(path: Path) -> dict[str, np.ndarray]:
    """The demo cohort's genome (``plasmatrack simulate --seed 1``) as FASTA; its contigs as
    base codes 0-3."""
    from plasmatrack.simulate.genome import build_genome, write_fasta

    genome = build_genome(1)
    write_fasta(genome, path)
    codes = np.full(256, 0, dtype=np.uint8)
    codes[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
    return {name: codes[genome.contig_seq(name)] for name in genome.names}


def _noisy(rng, codes: np.ndarray) -> np.ndarray:
    codes = codes.copy()
    hit = rng.random(len(codes)) < 1e-3
    codes[hit] = (codes[hit] + rng.integers(1, 4, hit.sum())) % 4
    return codes


def _umi(rng, umi: str) -> str:
    if rng.random() >= 0.01:
        return umi
    i = int(rng.choice([k for k, c in enumerate(umi) if c != "+"]))
    return umi[:i] + "ACGT"[("ACGT".index(umi[i]) + 1) % 4] + umi[i + 1:]


def write_reads(prefix: Path, genome: dict[str, np.ndarray], molecules: int, seed: int) -> int:
    """Duplex read pairs as R1/R2 FASTQ.gz (contigs drawn by length); returns the number of
    pairs."""
    rng = np.random.default_rng(seed)
    contigs = list(genome.values())
    weights = np.array([len(c) for c in contigs], dtype=float)
    weights /= weights.sum()
    qual = "?" * READ
    pairs = 0
    with gzip.open(f"{prefix}_R1.fq.gz", "wt", 1) as r1, gzip.open(f"{prefix}_R2.fq.gz", "wt",
                                                                     1) as r2:
        for mol in range(molecules):
            contig = contigs[int(rng.choice(len(contigs), p=weights))] if len(contigs) > 1 \
                else contigs[0]
            start = int(rng.integers(0, len(contig) - 300))
            fragment = contig[start:start + int(rng.integers(150, 300))]
            alpha, beta = ("".join(rng.choice(list("ACGT"), 6)) for _ in range(2))
            top, bottom = fragment, _COMP[fragment[::-1]]
            for strand, (seq, umi) in enumerate(((top, f"{alpha}+{beta}"),
                                                 (bottom, f"{beta}+{alpha}"))):
                for copy in range(1 + rng.poisson(3)):
                    name = f"m{mol}s{strand}c{copy}:{_umi(rng, umi)}"
                    first = _text(_noisy(rng, seq[:READ]))
                    second = _text(_noisy(rng, _COMP[seq[::-1]][:READ]))
                    r1.write(f"@{name}\n{first}\n+\n{qual}\n")
                    r2.write(f"@{name}\n{second}\n+\n{qual}\n")
                    pairs += 1
    return pairs


# Runs a command and writes its CPU seconds and peak RSS: a child of this small process, not
# of the benchmark, whose peak RSS (the simulator genome's arrays) a child would inherit.
_LAUNCHER = """import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(f"{status} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
"""


def measure(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".usage") as usage:
        subprocess.run([sys.executable, "-c", _LAUNCHER, usage.name, *cmd], stdout=stdout,
                       stderr=subprocess.DEVNULL, check=True)
        status, cpu, rss = usage.read().split()
    if int(status):
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return float(cpu), int(rss) / 1024


def sample(work: Path, genome_fa: Path, genome: dict[str, np.ndarray], molecules: int, name: str) -> dict:
    prefix = work / name
    pairs = write_reads(prefix, genome, molecules, seed=molecules)
    sam = work / f"{name}.sam"
    with open(sam, "w") as out:
        bwa = measure(["bwa", "mem", "-t", "1", str(genome_fa), f"{prefix}_R1.fq.gz",
                       f"{prefix}_R2.fq.gz"], stdout=out)
    bam = work / f"{name}.bam"
    subprocess.run(["samtools", "sort", "-o", str(bam), str(sam)], check=True,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["samtools", "index", str(bam)], check=True)
    sam.unlink()
    base = [sys.executable, "-m", "plasmatrack", "consensus", "--bam", str(bam),
            "--umi-mode", "duplex", "--sample-id", name]
    ours = measure(base + ["--out", str(work / f"{name}_out")])
    with_ref = measure(base + ["--out", str(work / f"{name}_ref"), "--reference",
                               str(genome_fa)])
    return {"pairs": pairs, "bam": bam, "bwa": bwa, "ours": ours, "ours_ref": with_ref}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=5000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--genome", choices=("random", "simulator"), default="random",
                        help="reference the reads come from and bwa aligns to")
    parser.add_argument("--umi-tools", help="umi_tools executable for the comparison row")
    parser.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        genome_fa = work / "genome.fa"
        genome = (write_simulator_genome(genome_fa) if args.genome == "simulator"
                  else write_genome(genome_fa, np.random.default_rng(1)))
        subprocess.run(["bwa", "index", str(genome_fa)], check=True, capture_output=True)
        subprocess.run(["samtools", "faidx", str(genome_fa)], check=True)
        one = sample(work, genome_fa, genome, args.molecules, "x1")
        many = sample(work, genome_fa, genome, args.molecules * args.scale, f"x{args.scale}")
        print("| run | read pairs | CPU s | peak RSS MB | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for label, run in (("1x", one), (f"{args.scale}x", many)):
            bwa_cpu = run["bwa"][0]
            print(f"| bwa mem -t 1, {label} | {run['pairs']:,} | {bwa_cpu:.2f} | "
                  f"{run['bwa'][1]:.0f} | 1 |")
            for key, what in (("ours", "consensus"), ("ours_ref", "consensus --reference")):
                cpu, rss = run[key]
                print(f"| {what}, {label} | {run['pairs']:,} | {cpu:.2f} | {rss:.0f} | "
                      f"{cpu / bwa_cpu:.2f}x bwa CPU |")
        print(f"\npeak RSS {args.scale}x / 1x (consensus): {many['ours'][1] / one['ours'][1]:.3f}")
        if args.umi_tools:
            for label, run in (("1x", one), (f"{args.scale}x", many)):
                cpu, rss = measure([args.umi_tools, "group", "-I", str(run["bam"]), "--paired",
                                    "--umi-separator=:", "--output-bam", "-S",
                                    str(work / f"{label}.umitools.bam"), "--random-seed", "1"])
                print(f"umi_tools group --paired, {label}: {cpu:.2f} CPU s, {rss:.0f} MB; "
                      f"consensus {run['ours'][0]:.2f} CPU s, {run['ours'][1]:.0f} MB "
                      f"({run['ours'][0] / cpu:.2f}x its CPU)")


if __name__ == "__main__":
    main()
