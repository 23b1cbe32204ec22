"""Accuracy of the clonal stage end to end: simulated reads through the whole pipeline (alignment,
copy number, tracking, clones), against the simulator's truth (the figures in docs/clonal.md).

For each seed: ``plasmatrack simulate --patients N --seed S --read-pairs R`` and ``snakemake`` on
it (an existing run folder is reused; Snakemake redoes only what is out of date), then
``plasmatrack.clonal.synthetic.evaluate`` on ``results/clonal``. Prints one row per patient
(ARI, highest truth TF, the stage's resolution call) and the means over patients: ARI over all
patients, over those the stage calls resolved, over those with a draw at TF >= 0.05, prevalences
within 0.1 of truth (informative patients), resistance clones found emerging in their own
cluster.

    .venv/bin/python benchmarks/accuracy_clonal_e2e.py --seeds 11-14 --patients 4 \\
        --read-pairs 400000 --workdir DIR [--cores 2]

``--read-pairs 400000`` gives a median unique on-target depth of ~600-1100x in plasma (the
simulator's 800x target; docs/simulator.md); the default 120000 gives ~200-300x.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
BIN = Path(sys.executable).parent

from accuracy_cnv import seed_list  # noqa: E402  (benchmarks/ is the script's folder)
from plasmatrack.clonal.synthetic import evaluate  # noqa: E402


def run_seed(seed: int, root: Path, args) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    cohort = root / "cohort"
    start = time.perf_counter()
    if not (cohort / "truth" / "clones.tsv").is_file():
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--seed",
                        str(seed), "--patients", str(args.patients), "--read-pairs",
                        str(args.read_pairs)], check=True, capture_output=True)
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory",
                           str(root), "--configfile", str(cohort / "config.yaml"), "--cores",
                           str(args.cores), "--rerun-incomplete"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed}: pipeline failed:\n{proc.stderr[-4000:]}")
    seconds = time.perf_counter() - start
    folder = root / "results" / "clonal"
    tables = {n: pd.read_csv(folder / f"{n}.tsv", sep="\t", dtype={"patient_id": str})
              for n in ("variant_clusters", "cluster_prevalence", "tree", "events")}
    ev = evaluate(cohort / "truth", tables["variant_clusters"], tables["cluster_prevalence"],
                  tables["events"])
    samples = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t", dtype={"patient_id": str})
    max_tf = samples[samples["sample_type"] == "plasma"].groupby("patient_id")[
        "tumour_fraction"].max()
    tree = tables["tree"].drop_duplicates("patient_id").set_index("patient_id")
    rows = []
    for pid, ari in ev["ari"].items():
        found = [ok for (p, _), ok in ev["resistance_found"].items() if p == pid]
        rows.append({"seed": seed, "patient_id": pid, "ari": ari, "max_tf": max_tf[pid],
                     "resolvable_ccf_difference": tree.at[pid, "resolvable_ccf_difference"],
                     "clonal_resolution": tree.at[pid, "clonal_resolution"],
                     "resistance_found": sum(found), "resistance_clones": len(found)})
    err = ev["prevalence_errors"].assign(seed=seed)
    return pd.DataFrame(rows), err, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="11-14", help="e.g. 11-14 or 11,13 (default 11-14)")
    ap.add_argument("--patients", type=int, default=4)
    ap.add_argument("--read-pairs", type=int, default=400000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", required=True,
                    help="run folders DIR/seedS (kept; reruns reuse them)")
    args = ap.parse_args()
    work = Path(args.workdir)
    parts, errs = [], []
    for seed in seed_list(args.seeds):
        rows, err, seconds = run_seed(seed, work / f"seed{seed}", args)
        print(f"seed {seed}: simulate + pipeline {seconds:.0f} s (a reused run folder redoes only "
              "what is out of date)", flush=True)
        parts.append(rows)
        errs.append(err)
    df = pd.concat(parts, ignore_index=True)
    err = pd.concat(errs, ignore_index=True)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    informative = df["max_tf"] >= 0.05
    resolved = df["clonal_resolution"] == "resolved"
    key = df.set_index(["seed", "patient_id"])["max_tf"]
    err_inf = err[[key[(s, p)] >= 0.05 for s, p in zip(err["seed"], err["patient_id"])]]
    print(f"\n{len(df)} patients, {args.read_pairs} read pairs: mean ARI all "
          f"{df['ari'].mean():.3f}; resolved {resolved.sum()} {df.loc[resolved, 'ari'].mean():.3f}; "
          f"informative {informative.sum()} {df.loc[informative, 'ari'].mean():.3f}; "
          f"prevalences within 0.1 (informative) {100 * (err_inf['abs_error'] <= 0.1).mean():.1f}%"
          f", median error {err_inf['abs_error'].median():.3f}; resistance clones "
          f"{int(df.loc[informative, 'resistance_found'].sum())}/"
          f"{int(df.loc[informative, 'resistance_clones'].sum())} (informative), "
          f"{int(df['resistance_found'].sum())}/{int(df['resistance_clones'].sum())} (all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
