#!/usr/bin/env python
"""CPU of the identity fingerprint per sample against ``bwa mem`` on the same sample.

The issue's goal: fingerprinting costs at most 0.05x of the sample's alignment CPU. For each
sample of a cohort run (its FASTQ pair, its aligned BAM and the run's fingerprint sites) this
times, in the same run and interleaved: ``bwa mem -t 1 -Y`` on the FASTQ pair (to /dev/null),
the fingerprint pileup in-process (``run_fingerprint``), and the same as a fresh Python process
as the ``qc_fingerprint`` rule runs it (imports included). CPU seconds, best of ``--repeats``.

    .venv/bin/python benchmarks/bench_identity.py --run RUN_DIR --cohort COHORT_DIR \\
        [--samples 4] [--repeats 2]

RUN_DIR: a pipeline run (``results/align``, ``results/qc/fingerprint_sites.tsv``,
``results/reference/genome.fa`` bwa-indexed); COHORT_DIR: its cohort (``samples.tsv``,
``fastq/``)."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from plasmatrack.qc.identity import IdentitySettings  # noqa: E402
from plasmatrack.qc.identity_pipeline import run_fingerprint  # noqa: E402


def child_cpu(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_process_cpu(bam: Path, sites: Path, out: Path) -> float:
    start = time.process_time()
    run_fingerprint(bam, sites, out, IdentitySettings())
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sheet = pd.read_csv(args.cohort / "samples.tsv", sep="\t", dtype=str).head(args.samples)
    sites = args.run / "results" / "qc" / "fingerprint_sites.tsv"
    fasta = args.run / "results" / "reference" / "genome.fa"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fp.tsv"
        script = ("import sys; from plasmatrack.qc.identity import IdentitySettings; "
                  "from plasmatrack.qc.identity_pipeline import run_fingerprint; "
                  "run_fingerprint(sys.argv[1], sys.argv[2], sys.argv[3], IdentitySettings())")
        for row in sheet.itertuples():
            bam = args.run / "results" / "align" / row.patient_id / f"{row.sample_id}.bam"
            fq = [str(args.cohort / getattr(row, f"fastq_{k}")) for k in (1, 2)]
            bwa, inproc, proc = [], [], []
            for _ in range(args.repeats):
                bwa.append(child_cpu(["bwa", "mem", "-t", "1", "-Y", "-o", "/dev/null",
                                      str(fasta), *fq]))
                inproc.append(in_process_cpu(bam, sites, out))
                proc.append(child_cpu([sys.executable, "-c", script, str(bam), str(sites),
                                       str(out)]))
            rows.append(dict(sample=row.sample_id, bwa_mem_cpu=min(bwa),
                             fingerprint_cpu=min(inproc), fingerprint_process_cpu=min(proc),
                             ratio=min(inproc) / min(bwa), process_ratio=min(proc) / min(bwa)))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    total = table[["bwa_mem_cpu", "fingerprint_cpu", "fingerprint_process_cpu"]].sum()
    print(f"all: fingerprint / bwa mem = {total.fingerprint_cpu / total.bwa_mem_cpu:.4f} "
          f"in-process, {total.fingerprint_process_cpu / total.bwa_mem_cpu:.4f} as a process")


if __name__ == "__main__":
    main()
