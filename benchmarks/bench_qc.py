#!/usr/bin/env python
"""Per-sample QC time against ``samtools stats`` on the same BAM, same machine, same run.

The issue's goal: our QC (every metric, one pass with pysam) takes at most 1.5x the time of
``samtools stats``. Both get the same decompression threads. Timed: ``sample_qc`` in-process
(whole-genome and with a panel) and the ``plasmatrack qc`` command end to end (includes Python
start-up and imports, about 0.4 CPU s), each as best of ``--repeats`` runs, interleaved with
samtools stats so that load from other users of the machine hits all alike. Wall and CPU seconds
are both reported: on a shared machine CPU time is the steadier comparison.

BAM: ``--bam`` (with ``--panel``), or a synthetic cfDNA sample aligned with the pipeline's align
command (benchmarks/bench_align.py; ``--pairs`` read pairs, cached in ``--workdir``).

    .venv/bin/python benchmarks/bench_qc.py [--pairs 500000] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from bench_align import aligned_bam  # noqa: E402
from plasmatrack.qc import sample_qc  # noqa: E402


def synthetic_panel(bam: Path, out: Path, targets: int = 300, size: int = 200) -> Path:
    """Evenly spaced targets over the BAM's contigs (a capture-like BED for the depth code)."""
    with pysam.AlignmentFile(str(bam)) as handle:
        contigs = list(zip(handle.references, handle.lengths))
    per = max(1, targets // len(contigs))
    with open(out, "w") as bed:
        for name, length in contigs:
            step = length // (per + 1)
            for i in range(1, per + 1):
                bed.write(f"{name}\t{i * step}\t{i * step + size}\n")
    return out


def _cpu() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _measure(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bam")
    parser.add_argument("--panel")
    parser.add_argument("--pairs", type=int, default=500_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        work = Path(args.workdir or tmpdir)
        work.mkdir(parents=True, exist_ok=True)
        bam = Path(args.bam) if args.bam else aligned_bam(work, args.pairs)
        panel = Path(args.panel) if args.panel else synthetic_panel(bam, work / "panel.bed")
        records = int(sum(s.total for s in pysam.AlignmentFile(str(bam)).get_index_statistics())
                      + pysam.AlignmentFile(str(bam)).nocoordinate)
        stats_cmd = ["samtools", "stats", "-@", str(args.threads - 1), str(bam)]
        cli_cmd = [str(Path(sys.executable).parent / "plasmatrack"), "qc", "--bam", str(bam),
                   "--panel", str(panel), "--out", str(work / "cli"), "--sample-id", "bench",
                   "--threads", str(args.threads)]
        runs = {
            "stats": lambda: subprocess.run(stats_cmd, check=True, stdout=subprocess.DEVNULL),
            "qc": lambda: sample_qc(bam, sample_id="bench", threads=args.threads),
            "qc_panel": lambda: sample_qc(bam, sample_id="bench", panel=panel,
                                          threads=args.threads),
            "cli": lambda: subprocess.run(cli_cmd, check=True, stdout=subprocess.DEVNULL),
        }
        wall: dict[str, list[float]] = {key: [] for key in runs}
        cpu: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(args.repeats):  # interleaved, so load from other users hits all alike
            for key, fn in runs.items():
                w, c = _measure(fn)
                wall[key].append(w)
                cpu[key].append(c)
        best_wall = {k: min(v) for k, v in wall.items()}
        best_cpu = {k: min(v) for k, v in cpu.items()}
        row, _ = sample_qc(bam, sample_id="bench", panel=panel, threads=args.threads)
        print(f"BAM: {bam} ({records} records), threads: {args.threads}, best of {args.repeats}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"fragment mode {row['fragment_mode']:.0f} bp, duplicate rate "
              f"{row['duplicate_rate']:.3f}, "
              f"mean on-target depth {row['mean_on_target_depth']:.1f}")
        print(f"{'':34s} {'wall s':>7s} {'ratio':>6s} {'CPU s':>7s} {'ratio':>6s}")
        for key, label in (("stats", "baseline samtools stats"), ("qc", "sample_qc, no panel"),
                           ("qc_panel", "sample_qc, panel"),
                           ("cli", "plasmatrack qc CLI, panel")):
            print(f"{label:34s} {best_wall[key]:7.2f} {best_wall[key] / best_wall['stats']:6.2f} "
                  f"{best_cpu[key]:7.2f} {best_cpu[key] / best_cpu['stats']:6.2f}")

if __name__ == "__main__":
    main()
