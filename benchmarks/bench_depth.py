#!/usr/bin/env python
"""Depth growth: per-stage CPU, wall and peak RSS of the whole pipeline on one simulated patient
(normal + 3 plasma draws) at several depths, against ``bwa mem`` alone on the same reads.

For each ``--read-pairs`` N: ``plasmatrack simulate --patients 1 --draws 3 --read-pairs N``
(normals get 70 % of N), the whole pipeline with the local profile under ``/usr/bin/time -v``,
then ``bwa mem -Y`` alone on draw D1's reads. Per-stage figures come from the rules'
``benchmark:`` files (RUN/benchmarks/<stage>/...): per plasma draw (mean of the draws) for
per-sample rules, per patient or cohort for the others. Rules without a benchmark file
(reference, copy-number reference, background, calls, merges, cohort) are the whole run's CPU
minus the benchmarked jobs' ("other rules + Snakemake").

    .venv/bin/python benchmarks/bench_depth.py --workdir DIR [--read-pairs 150000 1500000]
        [--seed 21] [--cores 2] [--collect-only]

``--collect-only`` reads finished runs in DIR/d<N> without running anything.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PER_DRAW = re.compile(r"(?P<patient>[^/]+)/(?P<sample>[^/]+)\.(?P<what>[^/]+)\.tsv$")


def run_dir(workdir: Path, pairs: int) -> Path:
    return workdir / f"d{pairs}"


def timed(cmd: list[str], out: Path, **kwargs) -> dict:
    """Run ``cmd`` under /usr/bin/time -v (report in ``out``); CPU s, wall s, peak RSS MB."""
    subprocess.run(["/usr/bin/time", "-v", "-o", str(out), *cmd], check=True, **kwargs)
    return parse_time(out)


def parse_time(path: Path) -> dict:
    text = path.read_text()

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", text).group(1).strip()

    wall = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(wall)))
    return {"cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
            "wall_s": seconds, "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024}


def simulate_and_run(run: Path, pairs: int, seed: int, cores: int) -> None:
    """Simulate the cohort and run the whole pipeline (resumes: finished steps are kept)."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    cohort = run / "cohort"
    if not (cohort / "config.yaml").is_file():
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--patients",
                        "1", "--draws", "3", "--read-pairs", str(pairs), "--seed", str(seed)],
                       check=True, env=env)
    timed([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(run),
           "--configfile", str(cohort / "config.yaml"), "--profile",
           str(REPO / "profiles" / "local"), "--cores", str(cores)],
          run / "pipeline.time", env=env)
    fasta = run / "results" / "reference" / "genome.fa"
    reads = [cohort / "fastq" / f"P01_D1_R{k}.fastq.gz" for k in (1, 2)]
    with open(os.devnull, "w") as sink:
        timed(["bwa", "mem", "-Y", "-t", str(cores), str(fasta), *map(str, reads)],
              run / "bwa_alone.time", stdout=sink, stderr=subprocess.DEVNULL)


def benchmark_rows(run: Path) -> pd.DataFrame:
    """One row per benchmark file: stage, what, sample ('' for per-patient and cohort files),
    cpu_s, wall_s, rss_mb."""
    rows = []
    for path in sorted((run / "benchmarks").rglob("*.tsv")):
        rel = path.relative_to(run / "benchmarks").as_posix()
        stage = rel.split("/")[0]
        match = PER_DRAW.search(rel)
        if match and rel.count("/") == 2:
            sample, what = match.group("sample"), match.group("what")
        else:
            sample, what = "", Path(rel).stem.split(".")[-1]
        bench = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"stage": stage, "what": what, "sample": sample,
                     "cpu_s": float(bench["cpu_time"]), "wall_s": float(bench["s"]),
                     "rss_mb": float(bench["max_rss"])})
    return pd.DataFrame(rows)


def per_stage(run: Path) -> pd.DataFrame:
    """Per stage step: mean over plasma draws for per-sample steps, as is for the others."""
    rows = benchmark_rows(run)
    plasma = rows["sample"].str.match(r".*_D\d+$")
    draws = rows[plasma].groupby(["stage", "what"]).agg(
        cpu_s=("cpu_s", "mean"), wall_s=("wall_s", "mean"), rss_mb=("rss_mb", "max"))
    draws["unit"] = "per draw"
    other = rows[rows["sample"] == ""].groupby(["stage", "what"]).agg(
        cpu_s=("cpu_s", "sum"), wall_s=("wall_s", "sum"), rss_mb=("rss_mb", "max"))
    other["unit"] = "per patient/cohort"
    table = pd.concat([draws, other])
    total = parse_time(run / "pipeline.time")
    rest = total["cpu_s"] - rows["cpu_s"].sum()
    table.loc[("other rules + Snakemake", ""), :] = [rest, float("nan"), float("nan"), "run"]
    return table


def summary(run: Path) -> dict:
    rows = benchmark_rows(run)
    plasma = rows[rows["sample"].str.match(r".*_D\d+$")]
    align = plasma[(plasma["stage"] == "align") & (plasma["what"] == "align")]["cpu_s"].mean()
    after = plasma[plasma["stage"] != "align"].groupby("sample")["cpu_s"].sum().mean()
    pairs = pd.read_csv(run / "cohort" / "truth" / "samples.tsv", sep="\t")
    return {"bwa": parse_time(run / "bwa_alone.time"), "total": parse_time(run / "pipeline.time"),
            "align_cpu": align, "after_align_cpu": after,
            "pairs": pairs.loc[pairs["sample_type"] == "plasma", "read_pairs"].mean(),
            "max_rss_mb": rows["rss_mb"].max()}


def report(runs: list[Path]) -> None:
    """Print the depth-growth table (markdown) for runs in increasing depth."""
    tables = [per_stage(r) for r in runs]
    sums = [summary(r) for r in runs]
    low, high = tables[0], tables[-1]
    bwa_high = sums[-1]["bwa"]["cpu_s"]
    pairs = ", ".join(f"{s['pairs']:,.0f}" for s in sums)
    print(f"read pairs per plasma draw: {pairs}")
    print("| step | unit | CPU s (low) | CPU s (high) | growth | wall s (low / high) | "
          "peak RSS MB (low / high) | CPU / bwa mem (high) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in high.index:
        h = high.loc[key]
        lo = low.loc[key] if key in low.index else h * float("nan")
        name = ".".join(k for k in key if k)
        growth = h["cpu_s"] / lo["cpu_s"] if lo["cpu_s"] else float("nan")
        print(f"| {name} | {h['unit']} | {lo['cpu_s']:.2f} | {h['cpu_s']:.2f} | {growth:.1f}x | "
              f"{lo['wall_s']:.1f} / {h['wall_s']:.1f} | {lo['rss_mb']:.0f} / {h['rss_mb']:.0f} "
              f"| {h['cpu_s'] / bwa_high:.3f} |")
    for s, run in zip(sums, runs):
        print(f"{run.name}: bwa mem alone on D1 {s['bwa']['cpu_s']:.1f} CPU s "
              f"({s['bwa']['rss_mb']:.0f} MB); align rule {s['align_cpu']:.1f} CPU s per draw; "
              f"per-draw steps after alignment {s['after_align_cpu']:.1f} CPU s "
              f"= {s['after_align_cpu'] / s['align_cpu']:.2f}x align, "
              f"{s['after_align_cpu'] / s['bwa']['cpu_s']:.2f}x bwa mem; whole run "
              f"{s['total']['cpu_s']:.0f} CPU s, {s['total']['wall_s']:.0f} s wall; "
              f"largest job RSS {s['max_rss_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--read-pairs", type=int, nargs="+", default=[150_000, 1_500_000])
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--collect-only", action="store_true")
    args = parser.parse_args()
    runs = [run_dir(args.workdir, n) for n in sorted(args.read_pairs)]
    if not args.collect_only:
        for run, pairs in zip(runs, sorted(args.read_pairs)):
            simulate_and_run(run, pairs, args.seed, args.cores)
    report(runs)


if __name__ == "__main__":
    main()
