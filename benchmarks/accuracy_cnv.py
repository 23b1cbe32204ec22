"""Tumour-fraction accuracy on the simulated dilution series, per seed (docs/cnv.md "Accuracy").

For each seed: ``plasmatrack simulate --dilution --seed S`` (two tumours, each at TF 0, 0.01,
0.02, 0.05, 0.1, 0.2, 0.4, plus their buffy-coat normals; ``--healthy-donors N`` adds N
healthy-donor plasma draws that replace the normals as the panel of normals), then the
pipeline up to ``results/cnv/tumour_fraction.tsv`` (alignment, coverage, reference, HMM). A seed
folder that already holds a run is reused (Snakemake redoes only what is out of date).

Prints one row per seed and the pooled figures: MAE of the estimate in genome copies (the HMM's
``tumour_fraction_fit`` converted with the fitted fragment-length ratio, whatever the detection
call), of the reported column (0 when not detected) and of the uncorrected fragment-scale
estimate, over the draws at TF >= 0.05, how many of those
are detected, how many tumour-free samples (TF 0 draws and normals) are detected, how often the
95% interval holds the truth, the ERBB2 calls (amplified among the samples with excess plasma
copies TF x (CN - 2) >= 0.3, and among those with no excess or normals), the fragment-length
ratio k of D01 / D02, and their estimates at TF 0.05, 0.1, 0.2 and 0.4.

    .venv/bin/python benchmarks/accuracy_cnv.py --seeds 5-9 --workdir DIR [--cores 2]
        [--read-pairs N] [--healthy-donors N] [--reference-correction none]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from plasmatrack.cnv.fragments import genome_fraction  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = ["results/cnv/tumour_fraction.tsv"]


def seed_list(text: str) -> list[int]:
    """``"5-9"`` or ``"2,5"`` (or a mix) as a list of seeds; also used by accuracy_clonal.py."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def run_seed(seed: int, work: Path, cores: int, read_pairs: int | None = None,
             healthy_donors: int = 0, reference_correction: str | None = None,
             reference_shrinkage: bool | None = None) -> pd.DataFrame:
    name = f"dil{seed}" + (f"_rp{read_pairs}" if read_pairs else "") + (
        f"_hd{healthy_donors}" if healthy_donors else "")
    root = work / name
    cohort = root / "cohort"
    if not (cohort / "truth" / "samples.tsv").is_file():
        extra = ([] if read_pairs is None else ["--read-pairs", str(read_pairs)]) + (
            ["--healthy-donors", str(healthy_donors)] if healthy_donors else [])
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--dilution",
                        "--seed", str(seed), "--force", *extra], check=True, capture_output=True)
    configs = [str(cohort / "config.yaml")]
    overrides = {}
    if reference_correction:
        overrides["reference_correction"] = reference_correction
    if reference_shrinkage is not None:
        overrides["reference_shrinkage"] = str(reference_shrinkage).lower()
    if overrides:
        # a second config file overrides these cnv keys (Snakemake merges them); the
        # copy-number steps of the folder rerun in place
        override = cohort / "cnv_override.yaml"  # relative paths resolve from here
        override.write_text("cnv:\n" + "".join(f"  {k}: {v}\n" for k, v in overrides.items()))
        configs.append(str(override))
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
           "--configfile", *configs, "--cores", str(cores),
           "--rerun-incomplete", "--quiet", "rules", "--", *TARGETS]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed}: pipeline failed:\n{proc.stderr[-3000:]}")
    tf = pd.read_csv(root / "results" / "cnv" / "tumour_fraction.tsv", sep="\t")
    truth = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t")
    truth = truth[["sample_id", "tumour_fraction", "erbb2_excess_copies"]].rename(
        columns={"tumour_fraction": "truth", "erbb2_excess_copies": "erbb2_excess_truth"})
    erbb2 = pd.read_csv(root / "results" / "cnv" / "erbb2.tsv", sep="\t")
    out = tf.merge(truth, on="sample_id").assign(seed=seed)
    out["erbb2_amplified"] = out["sample_id"].map(
        erbb2.set_index("sample_id")["amplified"].astype(str).str.lower() == "true")
    # The HMM's estimate whatever the detection call, in genome copies (tumour_fraction_fit is
    # the fragment scale; fragment_length_ratio converts it, 1 where no correction was made).
    ratio = out["fragment_length_ratio"] if "fragment_length_ratio" in out else 1.0
    out["estimate"] = genome_fraction(out["tumour_fraction_fit"].to_numpy(float),
                                      np.asarray(ratio, float))
    return out


def summary(d: pd.DataFrame) -> dict:
    plasma = d[d["sample_type"] == "plasma"]
    high = plasma[plasma["truth"] >= 0.05]
    free = d[(d["sample_type"] == "normal") | (d["truth"] == 0)]
    held = (high["tf_lower"] <= high["truth"]) & (high["truth"] <= high["tf_upper"])
    must = d[d["erbb2_excess_truth"] >= 0.3]
    never = d[(d["erbb2_excess_truth"] == 0) | (d["sample_type"] == "normal")]
    return {"mae": (high["estimate"] - high["truth"]).abs().mean(),
            "mae_reported": (high["tumour_fraction"] - high["truth"]).abs().mean(),
            "mae_fragments": (high["tumour_fraction_fit"] - high["truth"]).abs().mean(),
            "detected": f"{int(high['tf_detected'].sum())}/{len(high)}",
            "free_detected": f"{int(free['tf_detected'].sum())}/{len(free)}",
            "held": f"{int(held.sum())}/{len(high)}", "high": high,
            "erbb2": f"{int(must['erbb2_amplified'].sum())}/{len(must)}, "
                     f"{int(never['erbb2_amplified'].sum())}/{len(never)}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="5-9", help="e.g. 5-9 or 5,7 (default 5-9)")
    ap.add_argument("--workdir", required=True, help="one run folder per seed (dilSEED) here")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--read-pairs", type=int, default=None,
                    help="read pairs per plasma sample (default: the simulator's, 120000); "
                         "runs go to dilSEED_rpN")
    ap.add_argument("--healthy-donors", type=int, default=0,
                    help="add N healthy-donor plasma draws as the panel of normals instead of "
                         "the buffy-coat normals (simulate --healthy-donors); runs go to "
                         "dilSEED_hdN")
    ap.add_argument("--reference-correction", choices=["cnvkit", "none"], default=None,
                    help="config cnv.reference_correction for these runs (default: the "
                         "pipeline's, none); reruns the copy-number steps in the same folders")
    ap.add_argument("--no-reference-shrinkage", action="store_true",
                    help="config cnv.reference_shrinkage: false for these runs (the panel's bin "
                         "deviations kept whole); reruns the copy-number steps in the same folders")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    runs = [run_seed(s, work, args.cores, args.read_pairs, args.healthy_donors,
                     args.reference_correction,
                     False if args.no_reference_shrinkage else None)
            for s in seed_list(args.seeds)]
    print("| seed | MAE, estimate | MAE, reported | MAE, fragment scale | detected (TF >= 0.05) "
          "| TF 0 / normals detected | interval holds truth | ERBB2 amplified: excess >= 0.3, "
          "no excess or normal | length ratio k, D01 / D02 | D01 / D02 at 0.05, 0.1, 0.2, 0.4 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for d in runs:
        s = summary(d)
        h = s["high"].sort_values(["patient_id", "truth"])
        est = " / ".join(" ".join(f"{v:.3f}" for v in g["estimate"])
                         for _, g in h.groupby("patient_id"))
        ratio = " / ".join(f"{g['fragment_length_ratio'].iloc[0]:.3f}"
                           for _, g in h.groupby("patient_id"))
        print(f"| {int(d['seed'].iloc[0])} | {s['mae']:.4f} | {s['mae_reported']:.4f} | "
              f"{s['mae_fragments']:.4f} | {s['detected']} | {s['free_detected']} | "
              f"{s['held']} | {s['erbb2']} | {ratio} | {est} |")
    s = summary(pd.concat(runs))
    per_seed = [summary(d)["mae"] for d in runs]
    print(f"| pooled | {s['mae']:.4f} | {s['mae_reported']:.4f} | {s['mae_fragments']:.4f} | "
          f"{s['detected']} | {s['free_detected']} | {s['held']} | {s['erbb2']} | | |")
    print(f"goal MAE <= 0.02 met on {sum(m <= 0.02 for m in per_seed)} of {len(per_seed)} seeds "
          f"(worst {max(per_seed):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
