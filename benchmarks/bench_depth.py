#!/usr/bin/env python
"""Depth growth: per-step CPU, wall and peak RSS of one simulated draw's pipeline steps at two
depths 10x apart, against ``bwa mem`` alone on the same reads.

Low depth: ``plasmatrack simulate --patients 1 --draws 3 --read-pairs LOW`` (normals get 70 %)
through the whole pipeline (local profile, under ``/usr/bin/time -v``). High depth: the same
seed (same genome and variants) at HIGH read pairs, and only the per-sample steps of one draw
(``--draw``, default P01_D1: check_fastq, align, index, QC, fingerprint, copy-number coverage,
variant and MRD counts), run by Snakemake on the low run's cohort-level files (reference, bins,
site lists), since those are the steps whose cost grows with depth (the per-patient and cohort
steps read tables). Then ``bwa mem -Y`` alone on the draw's reads at each depth. Figures come
from the rules' ``benchmark:`` files (RUN/benchmarks/<stage>/<patient>/<sample>.<what>.tsv).

    .venv/bin/python benchmarks/bench_depth.py --workdir DIR [--read-pairs 150000 1500000]
        [--seed 21] [--cores 2] [--draw P01_D1] [--collect-only]

``--collect-only`` reads finished runs in DIR/d<LOW> and DIR/d<HIGH> without running anything.
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


def timed(cmd: list[str], out: Path, **kwargs) -> dict:
    """Run ``cmd`` under /usr/bin/time -v (report in ``out``); CPU s, wall s, peak RSS MB."""
    subprocess.run(["/usr/bin/time", "-v", "-o", str(out), *cmd], check=True, **kwargs)
    return parse_time(out)


def parse_time(path: Path) -> dict:
    """CPU s (user + system), wall s and peak RSS MB from a ``/usr/bin/time -v`` report."""
    text = path.read_text()

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", text).group(1).strip()

    wall = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(wall)))
    return {"cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
            "wall_s": seconds, "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024}


COHORT_FILES = ["results/reference", "results/cnv/bins", "results/variants/sites.tsv",
                "results/mrd/sites.tsv", "results/qc/fingerprint_sites.tsv"]
PER_DRAW_RULES = ["check_fastq", "align", "index_bam", "qc_sample", "cnv_coverage",
                  "variants_count", "mrd_count"]


def _simulate(cohort: Path, pairs: int, seed: int, env: dict) -> None:
    """One patient, normal + 3 draws, unless the cohort folder is already complete."""
    if not (cohort / "config.yaml").is_file():
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--patients",
                        "1", "--draws", "3", "--read-pairs", str(pairs), "--seed", str(seed)],
                       check=True, env=env)


def per_draw_targets(draw: str) -> list[str]:
    """The outputs of one draw's per-sample steps (the rules in PER_DRAW_RULES)."""
    return [f"results/align/P01/{draw}.bam.bai", f"results/qc/P01/{draw}.qc.tsv",
            f"results/qc/P01/{draw}.fingerprint.tsv",
            f"results/cnv/P01/{draw}.targetcoverage.cnn",
            f"results/variants/P01/{draw}.counts.tsv", f"results/mrd/P01/{draw}.counts.tsv"]


def simulate_and_run(run: Path, pairs: int, seed: int, cores: int, draw: str,
                     low_run: Path | None = None) -> None:
    """Simulate the cohort and run the whole pipeline (resumes: finished steps are kept). With
    ``low_run`` (same seed, so the same genome and variants): only ``draw``'s per-sample steps,
    on the cohort-level files (reference, bins, site lists) of ``low_run`` - the steps whose
    cost grows with depth, without aligning the other samples."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    cohort = run / "cohort"
    _simulate(cohort, pairs, seed, env)
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(run),
           "--configfile", str(cohort / "config.yaml"), "--profile",
           str(REPO / "profiles" / "local"), "--cores", str(cores)]
    if low_run is not None:
        for rel in COHORT_FILES:
            target = run / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                subprocess.run(["cp", "-r", str(low_run / rel), str(target)], check=True)
        cmd += ["--allowed-rules", *PER_DRAW_RULES, "--", *per_draw_targets(draw)]
    timed(cmd, run / "pipeline.time", env=env)
    fasta = run / "results" / "reference" / "genome.fa"
    reads = [cohort / "fastq" / f"{draw}_R{k}.fastq.gz" for k in (1, 2)]
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


def draw_steps(run: Path, draw: str) -> pd.DataFrame:
    """The per-sample steps of one draw, indexed by 'stage.what'."""
    rows = benchmark_rows(run)
    rows = rows[rows["sample"] == draw]
    return rows.set_index(rows["stage"] + "." + rows["what"])[["cpu_s", "wall_s", "rss_mb"]]


def read_pairs(run: Path, draw: str) -> int:
    """The draw's simulated read pairs (truth/samples.tsv)."""
    samples = pd.read_csv(run / "cohort" / "truth" / "samples.tsv", sep="\t")
    return int(samples.loc[samples["sample_id"] == draw, "read_pairs"].iloc[0])


def bwa_cpu(run: Path) -> float:
    """CPU s of ``bwa mem`` alone on the draw (NaN when not measured)."""
    path = run / "bwa_alone.time"
    return parse_time(path)["cpu_s"] if path.is_file() else float("nan")


def report(low: Path, high: Path, draw: str) -> None:
    """Print the depth-growth table (markdown) of ``draw``'s per-sample steps at two depths, and
    the low run's per-patient and cohort steps."""
    lo, hi = draw_steps(low, draw), draw_steps(high, draw)
    bwa = {"low": bwa_cpu(low), "high": bwa_cpu(high)}
    align = {"low": lo.loc["align.align", "cpu_s"], "high": hi.loc["align.align", "cpu_s"]}
    print(f"{draw}: {read_pairs(low, draw):,} and {read_pairs(high, draw):,} read pairs; "
          f"bwa mem -Y alone {bwa['low']:.1f} / {bwa['high']:.1f} CPU s")
    print("| step | CPU s (low) | CPU s (high) | growth | wall s (low / high) | "
          "peak RSS MB (low / high) | CPU / align rule (low / high) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for step in hi.index:
        h, l_ = hi.loc[step], lo.loc[step]
        print(f"| {step} | {l_['cpu_s']:.2f} | {h['cpu_s']:.2f} | "
              f"{h['cpu_s'] / max(l_['cpu_s'], 0.01):.1f}x | {l_['wall_s']:.1f} / "
              f"{h['wall_s']:.1f} | {l_['rss_mb']:.0f} / {h['rss_mb']:.0f} | "
              f"{l_['cpu_s'] / align['low']:.3f} / {h['cpu_s'] / align['high']:.3f} |")
    for label, table in (("low", lo), ("high", hi)):
        after = table.loc[~table.index.str.startswith("align."), "cpu_s"].sum()
        print(f"{label}: per-draw steps after alignment {after:.1f} CPU s = "
              f"{after / align[label]:.2f}x the align rule, {after / bwa[label]:.2f}x bwa mem")
    rows = benchmark_rows(low)
    cohort = rows[rows["sample"] == ""]
    total = parse_time(low / "pipeline.time")
    print(f"{low.name} whole run: {total['cpu_s']:.0f} CPU s, {total['wall_s']:.0f} s wall; "
          f"per-patient/cohort steps with a benchmark file {cohort['cpu_s'].sum():.1f} CPU s; "
          f"rules without one + Snakemake "
          f"{total['cpu_s'] - rows['cpu_s'].sum():.1f} CPU s; largest job "
          f"{rows['rss_mb'].max():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--read-pairs", type=int, nargs=2, default=[150_000, 1_500_000],
                        metavar=("LOW", "HIGH"))
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--draw", default="P01_D1")
    parser.add_argument("--collect-only", action="store_true")
    args = parser.parse_args()
    low_pairs, high_pairs = sorted(args.read_pairs)
    low, high = (args.workdir / f"d{n}" for n in (low_pairs, high_pairs))
    if not args.collect_only:
        simulate_and_run(low, low_pairs, args.seed, args.cores, args.draw)
        simulate_and_run(high, high_pairs, args.seed, args.cores, args.draw, low_run=low)
    report(low, high, args.draw)


if __name__ == "__main__":
    main()
