"""Accuracy of the clonal stage on simulated cohorts, stage alone (the figures in docs/clonal.md).

For each seed: ``plasmatrack simulate --no-reads --patients 8`` (truth only), then fragment counts
for every truth variant and draw drawn binomially around the truth VAF at ``--depth``
(``plasmatrack.clonal.synthetic``), copy numbers from ``truth/segments.tsv``, and the tumour
content chosen by ``--tumour-content``:

- ``truth``: the simulator's TF (the stage's own accuracy);
- ``max`` / ``auto`` / ``snv`` / ``cnv``: as the pipeline's setting, with the SNV estimate from the
  variants stage's ``snv_tumour_fraction`` on the same counts and a copy-number TF = truth x a
  log-normal error (``--cn-error``), reported as not detected (0) below ``--cn-floor``.

Prints one row per seed and the mean over patients: ARI over all patients, over the patients the
stage itself reports as resolved (``clonal_resolution`` in tree.tsv: resolvable CCF difference
<= ``resolution_limit``; no truth used), over the informative patients (a
draw at TF >= 0.05) and against identifiable clones, prevalences within 0.1 of truth, median
prevalence error, and resistance clones found emerging in their own cluster.

    .venv/bin/python benchmarks/accuracy_clonal.py --seeds 1-10 [--depth 800]
        [--tumour-content truth|max|auto|snv|cnv] [--cn-error 0.15] [--workdir DIR]
        [--explain-single] [--total-cn-only] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
BIN = Path(sys.executable).parent

from accuracy_cnv import seed_list  # noqa: E402  (benchmarks/ is the script's folder)
from plasmatrack.clonal.pipeline import ClonalSettings, read_clinical_table, run_pipeline  # noqa: E402
from plasmatrack.clonal.inputs import (patient_inputs, read_segments,  # noqa: E402
                                       read_snv_tf, read_tracked, read_tumour_fraction)
from plasmatrack.clonal.synthetic import (evaluate, tracked_with_sites,  # noqa: E402
                                          truth_partition_gain, tumour_fraction_from_truth)
from plasmatrack.io import write_tsv  # noqa: E402
from plasmatrack.variants.snv_tf import snv_tumour_fraction  # noqa: E402


def stage_inputs(cohort: Path, out: Path, depth: float, mode: str, cn_error: float,
                 cn_floor: float, count_seed: int) -> tuple[Path, Path, Path | None]:
    """tracked, copy-number TF and SNV TF tables for one cohort."""
    truth = cohort / "truth"
    tracked = tracked_with_sites(truth, seed=count_seed, depth=depth)
    paths = (out / "tracked.tsv", out / "tumour_fraction.tsv", out / "snv_tf.tsv")
    write_tsv(tracked, paths[0])
    if mode == "truth":
        write_tsv(tumour_fraction_from_truth(truth), paths[1])
        return paths[0], paths[1], None
    samples = pd.read_csv(truth / "samples.tsv", sep="\t")
    samples = samples[samples["sample_type"] == "plasma"].reset_index(drop=True)
    rng = np.random.default_rng(count_seed)
    tf = samples["tumour_fraction"].to_numpy(float) * np.exp(rng.normal(0, cn_error, len(samples)))
    detected = tf >= cn_floor
    write_tsv(pd.DataFrame({"sample_id": samples["sample_id"], "patient_id": samples["patient_id"],
                            "timepoint_days": samples["timepoint_days"],
                            "tumour_fraction": np.where(detected, tf, 0.0),
                            "ploidy": samples["ploidy"], "tf_detected": detected}), paths[1])
    write_tsv(snv_tumour_fraction(tracked[tracked["category"] == "somatic"]), paths[2])
    return paths


def run_seed(seed: int, work: Path, args) -> dict:
    cohort = work / f"cohort{seed}"
    if not (cohort / "truth" / "clones.tsv").is_file():
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--seed",
                        str(seed), "--no-reads", "--patients", str(args.patients), "--force"],
                       check=True, capture_output=True)
    out = work / f"stage{seed}"
    out.mkdir(parents=True, exist_ok=True)
    tracked, tf, snv = stage_inputs(cohort, out, args.depth, args.tumour_content, args.cn_error,
                                    args.cn_floor, args.count_seed)
    mode = "cnv" if args.tumour_content == "truth" else args.tumour_content
    segments = cohort / "truth" / "segments.tsv"
    if args.total_cn_only:  # the stage's fallback for the multiplicity bound, as from .cns files
        seg = pd.read_csv(segments, sep="\t")
        segments = out / "segments_total_cn.tsv"
        write_tsv(seg.drop(columns=["major_cn", "minor_cn"]), segments)
    settings = ClonalSettings.from_config({
        **args.set, "copy_number": "table",
        "copy_number_table": str(segments), "tumour_content": mode})
    outputs = {k: out / f"{k}.tsv" for k in ("variants", "prevalence", "tree", "events")}
    tables = run_pipeline(tracked, tf, outputs, snv_tf=snv, settings=settings,
                          clinical=read_clinical_table(cohort / "clinical.tsv"))
    ev = evaluate(cohort / "truth", tables["variants"], tables["prevalence"], tables["events"])
    single = explain_single(seed, cohort, tables["variants"], (tracked, tf, snv), settings) \
        if args.explain_single else []
    samples = pd.read_csv(cohort / "truth" / "samples.tsv", sep="\t")
    max_tf = samples[samples["sample_type"] == "plasma"].groupby("patient_id")["tumour_fraction"].max()
    informative = [p for p in ev["ari"] if max_tf[p] >= 0.05]
    tree = tables["tree"].drop_duplicates("patient_id").set_index("patient_id")
    resolved = [p for p in ev["ari"]
                if p in tree.index and tree.at[p, "clonal_resolution"] == "resolved"]
    err = ev["prevalence_errors"]
    err = err[err["patient_id"].isin(informative)] if len(err) else err
    found = [f for (p, _), f in ev["resistance_found"].items() if p in informative]
    return {"seed": seed, "ari_all": np.mean(list(ev["ari"].values())),
            "informative": len(informative),
            "ari_informative": np.mean([ev["ari"][p] for p in informative]),
            "resolved": len(resolved),
            "ari_resolved": np.mean([ev["ari"][p] for p in resolved]) if resolved else np.nan,
            "res": [ev["ari"][p] for p in resolved],
            "ari_identifiable": np.mean([ev["ari_identifiable"][p] for p in informative]),
            "within_0.1": float((err["abs_error"] <= 0.1).mean()),
            "median_error": float(err["abs_error"].median()),
            "resistance": f"{sum(found)}/{len(found)}", "errors": err, "found": found,
            "all": list(ev["ari"].values()), "inf": [ev["ari"][p] for p in informative],
            "ident": [ev["ari_identifiable"][p] for p in informative], "single": single}


def explain_single(seed: int, cohort: Path, variants: pd.DataFrame, inputs: tuple,
                   settings: ClonalSettings) -> list[dict]:
    """truth_partition_gain for each patient the stage left as one cluster although its truth
    has several clones."""
    v = variants.dropna(subset=["cluster_id"])
    one = {p for p, g in v.groupby("patient_id") if g["cluster_id"].nunique() == 1}
    truth = pd.read_csv(cohort / "truth" / "variants.tsv", sep="\t", dtype={"chrom": str})
    key = ["chrom", "pos", "ref", "alt"]
    tracked, tf, snv = inputs
    rows = []
    for pin in patient_inputs(read_tracked(tracked), read_tumour_fraction(tf),
                              read_snv_tf(snv) if snv else None, {}, settings.inputs,
                              read_segments(cohort / "truth" / "segments.tsv")):
        if pin.patient_id not in one or pin.data is None:
            continue
        t = truth[truth["patient_id"] == pin.patient_id].drop_duplicates(key)
        labels = pin.data.annotations[key].merge(t[key + ["clone_id"]], on=key, how="left")
        labels = labels["clone_id"].to_numpy()
        if len(set(labels)) > 1:
            rows.append({"seed": seed, "patient_id": pin.patient_id,
                         **truth_partition_gain(pin.data, labels, settings.cluster)})
    return rows


def _setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key, float(value)
    except ValueError:
        return key, value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 2,5 (default 1-10)")
    ap.add_argument("--patients", type=int, default=8)
    ap.add_argument("--depth", type=float, default=800.0)
    ap.add_argument("--tumour-content", default="truth",
                    choices=["truth", "max", "auto", "snv", "cnv"])
    ap.add_argument("--cn-error", type=float, default=0.15,
                    help="log-normal SD of the copy-number TF (default 0.15)")
    ap.add_argument("--cn-floor", type=float, default=0.04,
                    help="copy-number TF below this reads as not detected (default 0.04)")
    ap.add_argument("--count-seed", type=int, default=3, help="seed of the drawn counts (3)")
    ap.add_argument("--total-cn-only", action="store_true",
                    help="give the stage the truth's total copy numbers without major_cn / "
                         "minor_cn (as the pipeline's .cns segments)")
    ap.add_argument("--workdir", help="keep cohorts and tables here (default: a temporary folder)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a clonal config key for the stage (repeatable), e.g. penalty=0.5, "
                         "criterion=aic, precision=1000")
    ap.add_argument("--explain-single", action="store_true",
                    help="for each patient left as one cluster although its truth has several "
                         "clones: the log-likelihood gain of the true split over one cluster "
                         "against BIC's price for the second cluster (nats)")
    args = ap.parse_args()
    args.set = dict(_setting(text) for text in args.set)
    with tempfile.TemporaryDirectory(prefix="plasmatrack-clonal-acc-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        rows = [run_seed(s, work, args) for s in seed_list(args.seeds)]
    print(f"tumour content {args.tumour_content}, depth {args.depth:g}x"
          + ("" if args.tumour_content == "truth" else f", copy-number TF error {args.cn_error:g}"))
    print("| seed | ARI, all | resolved | ARI, resolved | informative | ARI, informative | "
          "ARI, identifiable | within 0.1 | median error | resistance |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['seed']} | {r['ari_all']:.3f} | {r['resolved']} | {r['ari_resolved']:.3f} | "
              f"{r['informative']} | "
              f"{r['ari_informative']:.3f} | {r['ari_identifiable']:.3f} | "
              f"{100 * r['within_0.1']:.0f}% | {r['median_error']:.3f} | {r['resistance']} |")
    errors = pd.concat([r["errors"] for r in rows])
    found = sum((r["found"] for r in rows), [])
    # means over patients (the "averaged over patients"), not over seeds
    res = sum((r["res"] for r in rows), [])
    print(f"| mean | {np.mean(sum((r['all'] for r in rows), [])):.3f} | {len(res)} | "
          f"{np.mean(res) if res else float('nan'):.3f} | "
          f"{sum(r['informative'] for r in rows)} | "
          f"{np.mean(sum((r['inf'] for r in rows), [])):.3f} | "
          f"{np.mean(sum((r['ident'] for r in rows), [])):.3f} | "
          f"{100 * (errors['abs_error'] <= 0.1).mean():.1f}% | "
          f"{errors['abs_error'].median():.3f} | {sum(found)}/{len(found)} |")
    single = pd.DataFrame(sum((r["single"] for r in rows), []))
    if args.explain_single and len(single):
        print("\none-cluster patients: gain of the true split vs BIC's price (nats)")
        print(single.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
        print(f"true split pays for itself in {int((single['gain'] > single['price']).sum())} "
              f"of {len(single)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
