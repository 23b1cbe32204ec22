"""``plasmatrack cnv-combine``: the pipeline's combined tumour fraction (rule ``cnv_combine``) from
the stage tables of a run or of another tool in the same columns.

    plasmatrack cnv-combine --cn results/cnv/tumour_fraction_cn.tsv \\
        [--snv results/variants/snv_tumour_fraction.tsv] \\
        [--tracked results/variants/tracked_variants.tsv --states-dir results/cnv] \\
        [--alpha 0.01] [--methods cn snv] [--snv-2xvaf] --out DIR

Writes DIR/tumour_fraction.tsv (combined, per-method columns beside it) and
DIR/tumour_fraction_baf.tsv (BAF needs --tracked and the HMM states,
``<states-dir>/<patient>/<sample>.hmm_states.tsv``). With --tracked and the states the SNV
evidence is refitted with each SNV's copy number (config ``cnv.combine.snv_copy_number``;
``--snv-2xvaf`` keeps the variants stage's 2 x VAF). Method: docs/cnv.md, "Combined tumour
fraction" and "SNV tumour fraction with copy number"."""

from __future__ import annotations

import argparse
from pathlib import Path

METHODS = ("cn", "snv", "baf")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cn", required=True, help="copy-number table (tumour_fraction_cn.tsv)")
    parser.add_argument("--snv", help="SNV table (snv_tumour_fraction.tsv)")
    parser.add_argument("--tracked", help="tracked_variants.tsv (germline hets for BAF)")
    parser.add_argument("--states-dir", help="folder with <patient>/<sample>.hmm_states.tsv")
    parser.add_argument("--alpha", type=float, default=0.01,
                        help="detection level of tf_p_value (default 0.01)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=["cn", "snv"],
                        help="evidence that enters the estimate (default: cn snv)")
    parser.add_argument("--snv-2xvaf", action="store_true",
                        help="keep the variants stage's SNV estimate (2 x VAF) instead of the "
                             "refit with copy number")
    parser.add_argument("--snv-cluster-ratio", type=float, default=0.6,
                        help="variants.snv_tf.cluster_ratio of the run (default 0.6)")
    parser.add_argument("--snv-min-depth", type=int, default=50,
                        help="variants.snv_tf.min_depth of the run (default 50)")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..cnv.combine_io import combine_tumour_fractions
    from ..errors import InputError

    if bool(args.tracked) != bool(args.states_dir):
        raise InputError("--tracked and --states-dir go together (BAF needs both)")
    states = None
    if args.states_dir:
        states = {p.name.split(".")[0]: str(p)
                  for p in sorted(Path(args.states_dir).glob("*/*.hmm_states.tsv"))
                  if not p.name.startswith("patient.")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = combine_tumour_fractions(
        args.cn, str(out / "tumour_fraction.tsv"), str(out / "tumour_fraction_baf.tsv"),
        snv_path=args.snv, tracked_path=args.tracked, state_paths=states, alpha=args.alpha,
        methods=tuple(args.methods), snv_copy_number=not args.snv_2xvaf,
        cluster_ratio=args.snv_cluster_ratio, min_depth=args.snv_min_depth)
    detected = int(table["tf_detected"].sum())
    print(f"{out / 'tumour_fraction.tsv'}: {detected} of {len(table)} samples detected "
          f"(alpha {args.alpha:g}, methods {'+'.join(args.methods)})")
    return 0
