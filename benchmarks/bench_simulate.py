#!/usr/bin/env python
"""Time the default demo simulation against wgsim on the same machine, in the same run.

Ours: ``plasmatrack simulate`` (in-process ``simulate_cohort``) of the default demo (8 patients x
(normal + 3 plasma draws), default read pairs) with ``--threads`` worker processes: reference,
sheets, truth and every gzipped FASTQ. Baseline: ``wgsim`` (samtools' read simulator, uniform
reads, no cfDNA model) writing the same total number of 2 x 100 bp read pairs on the same
reference, then ``gzip -1`` of its FASTQs, run as ``--threads`` parallel jobs that share the
pairs, so both sides use the same cores and write the same kind of output. Printed: wall and CPU
seconds of each side, read pairs per second, and the ratios ours / baseline.

With ``--validate N`` it also aligns the first N plasma samples (bwa mem -Y, samtools fixmate,
sort, markdup) and compares them with the truth: mapped fraction, proper-pair fragment-length mode
vs fragment_mode, markdup's duplicate fraction vs position_duplicate_rate, VAF z-scores at the
truth variants by category (pysam count_coverage: MAPQ >= 40, BQ >= 20, no duplicates), and
off-target fragments per 100 kb bin (the accuracy figures of docs/simulator.md).

    .venv/bin/python benchmarks/bench_simulate.py [--patients 8] [--read-pairs N] [--threads 2]
        [--validate 2] [--keep DIR]
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
from plasmatrack.simulate import DEFAULT_READ_PAIRS, SimulateSettings, simulate_cohort  # noqa: E402


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_ours(out: Path, params: SimulateSettings, threads: int) -> tuple[float, float, int]:
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


def _markdup_fraction(stderr: str) -> float:
    fields = dict(line.split(": ", 1) for line in stderr.splitlines() if ": " in line)
    return int(fields["DUPLICATE TOTAL"]) / int(fields["READ"])


def validate(cohort: Path, n_samples: int, threads: int, workdir: Path) -> None:
    """Align plasma samples of ``cohort`` and print how they compare with its truth."""
    import numpy as np
    import pandas as pd
    import pysam

    ref = workdir / "genome.fa"
    shutil.copy(cohort / "reference" / "genome.fa", ref)
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    pysam.faidx(str(ref))
    truth_s = read_tsv(cohort / "truth" / "samples.tsv").set_index("sample_id")
    truth_v = read_tsv(cohort / "truth" / "variants.tsv", keep_default_na=False)
    panel = pd.read_csv(cohort / "panel.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "name"])
    plasma = truth_s[truth_s["sample_type"] == "plasma"].index[:n_samples]
    for sid in plasma:
        t = truth_s.loc[sid]
        bam = workdir / f"{sid}.bam"
        fq = [str(cohort / "fastq" / f"{sid}_R{i}.fastq.gz") for i in (1, 2)]
        cmd = (f"bwa mem -t {threads} -Y -R '@RG\\tID:{sid}\\tSM:{sid}' {ref} {fq[0]} {fq[1]}"
               f" 2>/dev/null | samtools fixmate -m - - | samtools sort -o {bam}.tmp.bam -")
        subprocess.run(["bash", "-c", cmd], check=True)
        md = subprocess.run(["samtools", "markdup", "-s", f"{bam}.tmp.bam", str(bam)],
                            check=True, capture_output=True, text=True)
        pysam.index(str(bam))
        total = mapped = proper = 0
        tlen: list[int] = []
        off: dict[tuple[str, int], int] = {}
        with pysam.AlignmentFile(str(bam)) as handle:
            for r in handle.fetch(until_eof=True):
                total += 1
                if r.is_unmapped:
                    continue
                mapped += 1
                proper += r.is_proper_pair
                if (r.is_read1 and not r.is_duplicate and r.mapping_quality >= 20
                        and not r.is_secondary and not r.is_supplementary):
                    if r.is_proper_pair and r.template_length > 0:
                        tlen.append(r.template_length)
                    tg = panel[panel["chrom"] == r.reference_name]
                    if not ((tg["start"] < r.reference_end + 200)
                            & (tg["end"] > r.reference_start - 200)).any():
                        key = (r.reference_name, r.reference_start // 100_000)
                        off[key] = off.get(key, 0) + 1
            lengths = dict(zip(handle.references, handle.lengths))
            bins = [off.get((c, b), 0) for c, n in lengths.items() for b in range(n // 100_000)]
            rows = []
            for v in truth_v[(truth_v["sample_id"] == sid)
                             & (truth_v["variant_type"] == "snv")].itertuples():
                cov = handle.count_coverage(
                    v.chrom, v.pos - 1, v.pos, quality_threshold=20,
                    read_callback=lambda a: not (a.is_duplicate or a.is_secondary
                                                 or a.is_supplementary)
                    and a.mapping_quality >= 40)
                counts = {b: int(c[0]) for b, c in zip("ACGT", cov)}
                n = counts[v.ref] + counts[v.alt]
                p = min(max(v.expected_vaf, 1e-4), 1 - 1e-4)
                z = (counts[v.alt] - n * p) / np.sqrt(n * p * (1 - p)) if n else 0.0
                rows.append((v.category, n, z))
        z = pd.DataFrame(rows, columns=["category", "depth", "z"])
        print(f"{sid}: TF {t['tumour_fraction']:.4f}; mapped {mapped / total:.4f}; properly "
              f"paired {proper / total:.4f}; fragment mode "
              f"{int(np.bincount(tlen).argmax())} (truth {t['fragment_mode']}); markdup "
              f"{_markdup_fraction(md.stderr):.4f} (truth position "
              f"{t['position_duplicate_rate']:.4f},"
              f" PCR {t['duplicate_rate']:.4f}); median on-target depth truth "
              f"{t['median_on_target_depth']:.0f}; off-target fragments per 100 kb: median "
              f"{np.median(bins):.0f}, 5th percentile {np.percentile(bins, 5):.0f}")
        for cat, part in z.groupby("category"):
            print(f"    {cat:9s} sites {len(part):3d}  median depth {part['depth'].median():6.0f}  "
                  f"z mean {part['z'].mean():+.2f}  sd {part['z'].std():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--read-pairs", type=int, default=DEFAULT_READ_PAIRS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", help="keep the simulated cohort in this folder")
    parser.add_argument("--validate", type=int, default=0, metavar="N",
                        help="also align the first N plasma samples and compare with the truth")
    args = parser.parse_args()
    if shutil.which("wgsim") is None:
        raise SystemExit("wgsim is not on PATH (Debian package: samtools ships it on bookworm)")
    params = SimulateSettings(seed=args.seed, patients=args.patients, read_pairs=args.read_pairs)
    with tempfile.TemporaryDirectory(prefix="bench_simulate.") as tmp:
        tmp = Path(tmp)
        out = Path(args.keep) if args.keep else tmp / "cohort"
        ours_wall, ours_cpu, pairs = run_ours(out, params, args.threads)
        base_wall, base_cpu = run_wgsim(out / "reference" / "genome.fa", pairs, args.threads,
                                        tmp)
        if args.validate:
            validate(out, args.validate, args.threads, tmp)
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
