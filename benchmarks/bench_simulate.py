#!/usr/bin/env python
"""Time the default demo simulation against wgsim on the same machine, in the same run.

Ours: ``plasmatrack simulate`` (in-process ``simulate_cohort``) of the default demo (8 patients x
(normal + 3 plasma draws), default read pairs) with ``--threads`` worker processes: reference,
sheets, truth and every gzipped FASTQ. Baseline: ``wgsim`` (samtools' read simulator, uniform
reads, no cfDNA model) writing the same total number of 2 x 100 bp read pairs on the same
reference, then ``gzip -1`` of its FASTQs, run as ``--threads`` parallel jobs that share the
pairs, so both sides use the same cores and write the same kind of output. Printed: wall and CPU
seconds of each side, read pairs per second, and the ratios ours / baseline.

    .venv/bin/python benchmarks/bench_simulate.py [--patients 8] [--read-pairs N] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from plasmatrack.io import read_tsv  # noqa: E402
from plasmatrack.simulate import DEFAULT_READ_PAIRS, Params, simulate_cohort  # noqa: E402


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_ours(out: Path, params: Params, threads: int) -> tuple[float, float, int]:
    wall0, cpu0 = time.perf_counter(), _cpu()
    simulate_cohort(out, params, force=True, threads=threads, log=lambda *_: None)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    pairs = int(read_tsv(out / "truth" / "samples.tsv")["read_pairs"].sum())
    return wall, cpu, pairs


def run_wgsim(fasta: Path, pairs: int, threads: int, workdir: Path) -> tuple[float, float]:
    """wgsim + gzip -1 for ``pairs`` read pairs, split over ``threads`` parallel jobs."""
    wall0, cpu0 = time.perf_counter(), _cpu()
    jobs = []
    for k in range(threads):
        n = pairs // threads + (1 if k < pairs % threads else 0)
        r1, r2 = workdir / f"w{k}_R1.fq", workdir / f"w{k}_R2.fq"
        cmd = (f"wgsim -S {11 + k} -N {n} -1 100 -2 100 -d 167 -s 20 -e 0.002 {fasta} {r1} {r2}"
               f" > /dev/null 2>&1 && gzip -1 -f {r1} {r2}")
        jobs.append(subprocess.Popen(["bash", "-c", cmd]))
    for job in jobs:
        if job.wait() != 0:
            raise SystemExit("wgsim failed")
    return time.perf_counter() - wall0, _cpu() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--read-pairs", type=int, default=DEFAULT_READ_PAIRS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", help="keep the simulated cohort in this folder")
    args = parser.parse_args()
    if shutil.which("wgsim") is None:
        raise SystemExit("wgsim is not on PATH (Debian package: samtools ships it on bookworm)")
    params = Params(seed=args.seed, patients=args.patients, read_pairs=args.read_pairs)
    with tempfile.TemporaryDirectory(prefix="bench_simulate.") as tmp:
        tmp = Path(tmp)
        out = Path(args.keep) if args.keep else tmp / "cohort"
        ours_wall, ours_cpu, pairs = run_ours(out, params, args.threads)
        base_wall, base_cpu = run_wgsim(out / "reference" / "genome.fa", pairs, args.threads,
                                        tmp)
    load = os.getloadavg()[0]
    print(f"demo: {args.patients} patients, {pairs} read pairs, {args.threads} threads "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"plasmatrack simulate : wall {ours_wall:7.1f} s  cpu {ours_cpu:7.1f} s  "
          f"{pairs / ours_wall:9.0f} pairs/s")
    print(f"wgsim + gzip -1      : wall {base_wall:7.1f} s  cpu {base_cpu:7.1f} s  "
          f"{pairs / base_wall:9.0f} pairs/s")
    print(f"ratio ours/wgsim     : wall {ours_wall / base_wall:.2f}x  cpu "
          f"{ours_cpu / base_cpu:.2f}x")


if __name__ == "__main__":
    main()
