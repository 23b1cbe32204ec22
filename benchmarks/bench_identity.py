#!/usr/bin/env python
"""CPU of the identity fingerprint per sample against ``bwa mem`` on the same sample.

The issue's goal: fingerprinting costs at most 0.05x of the sample's alignment CPU. The
fingerprint is counted in the sample's QC job (rule ``qc_sample``), so its cost is what that job
spends more with it than without. For each sample of a cohort run (its FASTQ pair, its aligned
BAM and the run's fingerprint sites) this times, in the same run and interleaved: ``bwa mem -t 1
-Y`` on the FASTQ pair (to /dev/null); the fingerprint pileup in-process (``run_fingerprint``);
and the QC job as a fresh Python process the way the rule runs it (``run_sample_qc`` with the
panel), once without and once with the fingerprint. CPU seconds, best of ``--repeats``.

    .venv/bin/python benchmarks/bench_identity.py --run RUN_DIR --cohort COHORT_DIR \\
        [--samples 4] [--repeats 3]

RUN_DIR: a pipeline run (``results/align``, ``results/qc/fingerprint_sites.tsv``,
``results/reference/genome.fa`` bwa-indexed, ``results/reference/panel.bed``); COHORT_DIR: its
cohort (``samples.tsv``, ``fastq/``)."""

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

# The rule's work as one process: QC of the BAM with the panel, with the fingerprint when the
# sites table is given (argv: bam, panel, out folder, sites or "").
QC_JOB = """import sys
from plasmatrack.qc import run_sample_qc
bam, panel, out, sites = sys.argv[1:5]
job = None
if sites:
    from plasmatrack.qc.identity import IdentitySettings
    from plasmatrack.qc.identity_pipeline import FingerprintJob
    job = FingerprintJob(sites, out + "/s.fingerprint.tsv", IdentitySettings())
run_sample_qc(bam, out + "/s.qc.tsv", out + "/s.fragment_lengths.tsv", sample_id="s",
              panel=panel, fingerprint=job)
"""


def child_cpu(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_process_cpu(bam: Path, sites: Path, out: Path) -> float:
    start = time.process_time()
    run_fingerprint(bam, sites, out, IdentitySettings())
    return time.process_time() - start


def time_sample(run: Path, cohort: Path, row, repeats: int, tmp: Path) -> dict:
    """Best-of-``repeats`` CPU seconds of one sample's alignment, fingerprint and QC job."""
    ref = run / "results" / "reference"
    sites = run / "results" / "qc" / "fingerprint_sites.tsv"
    bam = run / "results" / "align" / row.patient_id / f"{row.sample_id}.bam"
    fq = [str(cohort / getattr(row, f"fastq_{k}")) for k in (1, 2)]
    job = [sys.executable, "-c", QC_JOB, str(bam), str(ref / "panel.bed"), str(tmp)]
    times: dict[str, list[float]] = {"bwa": [], "work": [], "qc": [], "qc_fp": []}
    for _ in range(repeats):
        times["bwa"].append(child_cpu(["bwa", "mem", "-t", "1", "-Y", "-o", "/dev/null",
                                       str(ref / "genome.fa"), *fq]))
        times["work"].append(in_process_cpu(bam, sites, tmp / "fp.tsv"))
        times["qc"].append(child_cpu([*job, ""]))
        times["qc_fp"].append(child_cpu([*job, str(sites)]))
    best = {k: min(v) for k, v in times.items()}
    added = max(best["qc_fp"] - best["qc"], 0.0)
    return dict(sample=row.sample_id, bwa_mem_cpu=best["bwa"], fingerprint_cpu=best["work"],
                qc_job_cpu=best["qc"], qc_job_with_fingerprint_cpu=best["qc_fp"],
                ratio=best["work"] / best["bwa"], job_ratio=added / best["bwa"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sheet = pd.read_csv(args.cohort / "samples.tsv", sep="\t", dtype=str).head(args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        table = pd.DataFrame([time_sample(args.run, args.cohort, row, args.repeats, Path(tmp))
                              for row in sheet.itertuples()])
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    total = table.sum(numeric_only=True)
    added = (table["qc_job_with_fingerprint_cpu"] - table["qc_job_cpu"]).clip(lower=0).sum()
    print(f"all: fingerprint / bwa mem = {total.fingerprint_cpu / total.bwa_mem_cpu:.4f} "
          f"in-process, {added / total.bwa_mem_cpu:.4f} added to the qc_sample job; "
          f"largest per sample {table['job_ratio'].max():.4f}")


if __name__ == "__main__":
    main()
