"""SNV tumour-fraction accuracy on the own simulator's truth, stage alone (docs/variants.md).

For each seed: ``plasmatrack simulate --no-reads`` (8 patients), counts for every truth variant
drawn at the given depth (``plasmatrack.clonal.synthetic.tracked_from_truth``), then
``variants.snv_tf.snv_tumour_fraction``. Prints, per depth, the MAE over the plasma draws at TF
>= 0.05 and how many are off by more than 0.05.

    .venv/bin/python benchmarks/accuracy_snv_tf.py --seeds 1-10 --depths 200,800 --workdir DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_cnv import seed_list  # noqa: E402
from plasmatrack.clonal.synthetic import tracked_with_sites  # noqa: E402
from plasmatrack.variants.snv_tf import snv_tumour_fraction  # noqa: E402

BIN = Path(sys.executable).parent


def draws(truth: Path, seed: int, depth: float) -> pd.DataFrame:
    tracked = tracked_with_sites(truth, seed=seed, depth=depth)
    out = snv_tumour_fraction(tracked[tracked["category"] == "somatic"])
    tf = pd.read_csv(truth / "samples.tsv", sep="\t", dtype={"sample_id": str})
    out["truth"] = out["sample_id"].map(tf.set_index("sample_id")["tumour_fraction"])
    return out[(out["sample_type"] == "plasma") & (out["truth"] >= 0.05)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--depths", default="200,800")
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    work = Path(args.workdir)
    rows = []
    for seed in seed_list(args.seeds):
        cohort = work / f"cohort{seed}"
        if not (cohort / "truth" / "variants.tsv").is_file():
            subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--seed",
                            str(seed), "--no-reads", "--patients", "8", "--force"], check=True,
                           capture_output=True)
        for depth in (float(d) for d in args.depths.split(",")):
            d = draws(cohort / "truth", seed, depth)
            err = (d["tumour_fraction_snv"] - d["truth"]).abs()
            rows.append({"depth": depth, "seed": seed, "abs_error_sum": err.sum(), "n": len(d),
                         "off": int((err > 0.05).sum())})
    t = pd.DataFrame(rows).groupby("depth")[["abs_error_sum", "n", "off"]].sum()
    for depth, r in t.iterrows():
        print(f"depth {depth:.0f}x: MAE {r['abs_error_sum'] / r['n']:.4f} over {int(r['n'])} "
              f"draws at TF >= 0.05; {int(r['off'])} off by > 0.05")
    return 0


if __name__ == "__main__":
    sys.exit(main())
