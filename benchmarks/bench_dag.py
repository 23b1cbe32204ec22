"""How long Snakemake takes to plan plasmatrack for a large cohort: a dry run (`snakemake -n`) of
the whole workflow (`rule all`) on a sheets-only cohort of 1,000 patients x 6 plasma draws (plus a
normal each: 7,000 samples), with the local and with the SLURM profile (groups add a step).

Baseline, same machine, same run: bare Snakemake planning a workflow of the same size (the same
number of jobs: a chain of trivial rules per sample, one rule per patient, and a target), so the
ratio says what plasmatrack's own code (sheet validation, input functions, wildcard constraints)
adds on top of what Snakemake itself costs for that many jobs.

The cohort comes from `plasmatrack simulate --no-reads`; the dry run checks that every input
exists, so empty placeholder FASTQs are created in the benchmark's temporary folder. Wall time on
a machine shared with other work varies with its load; CPU time (user + sys of the Snakemake
process) much less, so both are printed.

Usage: .venv/bin/python benchmarks/bench_dag.py [--patients 1000] [--draws 6] [--keep DIR]
         [--profiles local,slurm] [--snakefile PATH]   (PATH: e.g. a patched copy, for an A/B)
       .venv/bin/python benchmarks/bench_dag.py --resources RUN_DIR [--plan 20e6 100e6]
         (per-job figures from the `benchmark:` files of a finished run, per rule: the numbers
         behind the rules' threads/mem_mb/runtime requests; --plan: per sample, extrapolated to
         real depth with the alignment as the unit, docs/cluster.md "Planning a cohort")

The dry runs also print what a cluster executor would submit per sample (group jobs once,
local rules never), from the dry run's own job listing.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL_S = 60.0


def _timed(cmd: list[str], log: Path) -> tuple[float, float, str]:
    """Run ``cmd`` with output to ``log``; -> (wall s, CPU s of the child and its children, log)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd="/",
                              env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{text[-4000:]}")
    return wall, cpu, text


def _total_jobs(log: str) -> int:
    match = re.search(r"^total\s+(\d+)$", log, re.M)
    if not match:
        raise SystemExit(f"no job count in the dry run's output:\n{log[-2000:]}")
    return int(match.group(1))


def local_rules(snakefile: Path) -> set[str]:
    """Rules declared `localrule: True` in the workflow's rule files (they never reach a cluster)."""
    names = set()
    for path in (snakefile.parent / "workflow" / "rules").glob("*.smk"):
        parts = re.split(r"^\s*rule (\w+):\s*$", path.read_text(), flags=re.M)
        names |= {name for name, body in zip(parts[1::2], parts[2::2])
                  if re.search(r"^\s*localrule: True", body, re.M)}
    return names


def cluster_submissions(log: str, local: set[str]) -> dict[str, int]:
    """What a cluster executor would submit, from a dry run's job blocks: one submission per
    'Group job NAME' header and per top-level (unindented) 'rule NAME:' block, except local rules
    and the target `all`, which stay on the submitting machine. Keyed by group or rule name."""
    counts: dict[str, int] = {}
    for line in log.splitlines():
        match = re.match(r"^(?:\[[^]]*\] )?(?:Group job (\w+) \(jobs in|rule (\w+):$)", line)
        name = match and (match.group(1) or match.group(2))
        if name and name != "all" and name not in local:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _placeholder_fastqs(cohort: Path) -> int:
    samples = pd.read_csv(cohort / "samples.tsv", sep="\t", dtype=str, comment="#")
    paths = {cohort / p for col in ("fastq_1", "fastq_2") for p in samples[col].dropna()}
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return len(samples)


def _baseline_snakefile(folder: Path, samples: pd.DataFrame, total_jobs: int) -> Path:
    """A bare workflow with ``total_jobs`` jobs: per sample a chain of trivial rules from its FASTQ,
    per patient one rule over its samples, the remainder as independent one-job steps."""
    n_samples, patients = len(samples), sorted(samples["patient_id"].unique())
    per_patient_rules = 1
    chain = max(1, (total_jobs - 1 - per_patient_rules * len(patients)) // n_samples)
    extra = total_jobs - 1 - chain * n_samples - per_patient_rules * len(patients)
    lines = ["import pandas as pd",
             f"S = pd.read_csv({str(folder / 'samples.tsv')!r}, sep='\\t', dtype=str)",
             "PAIRS = list(zip(S['patient_id'], S['sample_id']))",
             "PATIENTS = sorted(set(S['patient_id']))",
             f"EXTRA = range({max(extra, 0)})",
             "rule all:",
             "    input: expand('out/{p}.patient.txt', p=PATIENTS), "
             "expand('out/extra{i}.txt', i=EXTRA)",
             "rule step0:",
             "    input: 'fastq/{s}_R1.fastq.gz'",
             "    output: 'out/{p}/{s}.0'",
             "    shell: 'touch {output}'"]
    for k in range(1, chain):
        lines += [f"rule step{k}:", f"    input: 'out/{{p}}/{{s}}.{k - 1}'",
                  f"    output: 'out/{{p}}/{{s}}.{k}'", "    shell: 'touch {output}'"]
    lines += ["def patient_inputs(wildcards):",
              f"    return [f'out/{{p}}/{{s}}.{chain - 1}' for p, s in PAIRS "
              "if p == wildcards.p]",
              "rule patient:", "    input: patient_inputs",
              "    output: 'out/{p}.patient.txt'", "    shell: 'touch {output}'",
              "rule extra:", "    input: f'out/{PATIENTS[0]}.patient.txt'",
              "    output: 'out/extra{i}.txt'", "    shell: 'touch {output}'"]
    path = folder / "Snakefile.baseline"
    path.write_text("\n".join(lines) + "\n")
    return path


def _benchmark_rows(run: Path) -> pd.DataFrame:
    """One row per job of a finished run: step (<stage>/<what>, from Snakemake's benchmark files
    benchmarks/<stage>/<patient>/<sample>.<what>.tsv and cohort-level ones), wall time s, CPU
    time s and peak resident memory max_rss (MB)."""
    rows = []
    for path in sorted((run / "benchmarks").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        what = path.name.split(".")[-2] if path.name.count(".") >= 2 else path.stem
        stage = path.relative_to(run / "benchmarks").parts[0]
        for _, rec in table.iterrows():
            rows.append({"step": f"{stage}/{what}", "s": rec["s"], "cpu_time": rec["cpu_time"],
                         "max_rss": rec["max_rss"]})
    if not rows:
        raise SystemExit(f"no benchmark files under {run / 'benchmarks'}")
    data = pd.DataFrame(rows)
    for column in ("s", "cpu_time", "max_rss"):
        data[column] = pd.to_numeric(data[column], errors="coerce")
    return data


def summarize_resources(run: Path) -> pd.DataFrame:
    """Per rule, over the jobs of a finished run: count, median and max wall time (s), CPU time (s)
    and peak resident memory (max_rss, MB)."""
    return (_benchmark_rows(run).groupby("step")
            .agg(jobs=("s", "size"), wall_s_median=("s", "median"), wall_s_max=("s", "max"),
                 cpu_s_median=("cpu_time", "median"), max_rss_mb_max=("max_rss", "max"))
            .round(1))


# Steps whose work grows with the reads (a pass over the BAM, or pileups at sites whose depth
# grows with the reads); the others work per bin, per site or per table and stay flat.
READ_STREAMING = {"align/align", "qc/qc", "qc/fingerprint", "cnv/coverage", "variants/count",
                  "variants/discover", "mrd/count", "umi/extract", "umi/consensus"}


def _mean_read_pairs(run: Path) -> tuple[int, float]:
    """(samples, mean read pairs per sample) from the run's results/align/*/*.fastq_counts.tsv."""
    counts = [pd.read_csv(p, sep="\t")["reads_1"].iloc[0]
              for p in sorted((run / "results" / "align").glob("*/*.fastq_counts.tsv"))]
    if not counts:
        raise SystemExit(f"no FASTQ counts under {run / 'results' / 'align'}")
    return len(counts), float(sum(counts)) / len(counts)


def plan_per_draw(run: Path, read_pairs: list[float]) -> pd.DataFrame:
    """Per step, per sample of a finished run: jobs, CPU s (measured), peak RSS MB (measured),
    and CPU hours extrapolated to each of ``read_pairs`` per sample: a step in READ_STREAMING
    keeps its start-up cost (the smallest CPU time of any non-alignment job of the run: Python
    start and imports) and grows the rest in proportion to the reads; any other step stays as
    measured. Cohort- and patient-level steps are shared out per sample."""
    jobs = _benchmark_rows(run)
    n_samples, demo_pairs = _mean_read_pairs(run)
    start_up = jobs.loc[jobs["step"] != "align/align", "cpu_time"].min()
    rows = []
    for step, group in jobs.groupby("step"):
        cpu, fixed = group["cpu_time"].sum() / n_samples, len(group) * start_up / n_samples
        row = {"step": step, "jobs": len(group) / n_samples, "cpu_s_measured": cpu,
               "peak_rss_mb": group["max_rss"].max()}
        for pairs in read_pairs:
            grow = pairs / demo_pairs if step in READ_STREAMING else 1.0
            row[f"cpu_h_{pairs / 1e6:g}M"] = (fixed + (cpu - fixed) * grow) / 3600
        rows.append(row)
    table = pd.DataFrame(rows).set_index("step")
    table.loc["all steps"] = table.sum()
    table.loc["all steps", "peak_rss_mb"] = table["peak_rss_mb"].iloc[:-1].max()
    for pairs in read_pairs:
        column = f"cpu_h_{pairs / 1e6:g}M"
        table[f"x_align_{pairs / 1e6:g}M"] = table[column] / table.loc["align/align", column]
    print(f"{run}: {n_samples} samples, {demo_pairs:,.0f} read pairs per sample on average; "
          f"start-up CPU per job {start_up:.2f} s")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp folder)")
    parser.add_argument("--profiles", default="local,slurm",
                        help="comma-separated profiles/ to dry-run with (default local,slurm)")
    parser.add_argument("--snakefile", type=Path, default=REPO / "Snakefile",
                        help="workflow to plan (default: this repository's)")
    parser.add_argument("--resources", type=Path, metavar="RUN_DIR",
                        help="only summarise the benchmark files of a finished run")
    parser.add_argument("--plan", type=float, nargs="+", metavar="READ_PAIRS",
                        help="with --resources: per sample CPU hours extrapolated to these read "
                             "pairs per sample (e.g. 20e6 100e6)")
    args = parser.parse_args(argv)
    if args.resources:
        print(summarize_resources(args.resources).to_string())
        if args.plan:
            print(plan_per_draw(args.resources, args.plan).round(4).to_string())
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dag-"))
    work.mkdir(parents=True, exist_ok=True)
    cohort = work / "cohort"
    try:
        if (cohort / ".complete").exists():
            sim_wall = sim_cpu = 0.0  # --keep: reuse the cohort of an earlier run
        else:
            sim_wall, sim_cpu, _ = _timed(
                [str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--no-reads",
                 "--patients", str(args.patients), "--draws", str(args.draws), "--seed",
                 str(args.seed)], work / "simulate.log")
        n_samples = _placeholder_fastqs(cohort)
        rows, submitted = [], {}
        for profile in args.profiles.split(","):
            name = f"plasmatrack, profiles/{profile}"
            run = work / f"run-{profile}"
            shutil.rmtree(run, ignore_errors=True)
            cmd = [str(BIN / "snakemake"), "-s", str(args.snakefile), "--directory", str(run),
                   "--configfile", str(cohort / "config.yaml"), "--dry-run",
                   "--profile", str(REPO / "profiles" / profile)]
            wall, cpu, log = _timed(cmd, work / f"dryrun-{profile}.log")
            rows.append((name, _total_jobs(log), wall, cpu))
            submitted[profile] = cluster_submissions(log, local_rules(args.snakefile))
        total = rows[0][1]
        samples = pd.read_csv(cohort / "samples.tsv", sep="\t", dtype=str, comment="#")
        baseline = _baseline_snakefile(cohort, samples, total)
        b_wall, b_cpu, b_log = _timed(
            [str(BIN / "snakemake"), "-s", str(baseline), "--directory", str(cohort),
             "--cores", "1", "--dry-run"], work / "dryrun-baseline.log")
        rows.append(("bare Snakemake, same job count (baseline)", _total_jobs(b_log), b_wall,
                     b_cpu))

        print(f"cohort: {args.patients} patients x {args.draws} draws + normal = {n_samples} "
              f"samples (sheets only; simulate --no-reads took {sim_wall:.1f} s wall, "
              f"{sim_cpu:.1f} s CPU)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'dry run':45s} {'jobs':>7s} {'wall s':>8s} {'CPU s':>8s} {'wall/base':>9s} "
              f"{'CPU/base':>9s}")
        for name, jobs, wall, cpu in rows:
            print(f"{name:45s} {jobs:7d} {wall:8.1f} {cpu:8.1f} {wall / b_wall:9.2f} "
                  f"{cpu / b_cpu:9.2f}")
        for profile, counts in submitted.items():
            print(f"profiles/{profile}: {sum(counts.values())} cluster submissions (groups count "
                  f"once; local rules none), {sum(counts.values()) / n_samples:.2f} per sample; "
                  "per sample or more often: "
                  + ", ".join(f"{k} {v / n_samples:.2f}" for k, v in counts.items()
                              if v >= n_samples))
        print(f"workflow: {args.snakefile}")
        worst = max(cpu for _, _, _, cpu in rows[:-1])
        print(f"goal: dry run under {GOAL_S:.0f} s on 2 cores; worst plasmatrack CPU time "
              f"{worst:.1f} s -> {'met' if worst < GOAL_S else 'NOT met'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
