"""``plasmatrack cnv-combine``: the pipeline's combined tumour fraction (rule ``cnv_combine``) from
the stage tables of a run or of another tool in the same columns.

    plasmatrack cnv-combine --cn results/cnv/tumour_fraction_cn.tsv \\
        [--snv results/variants/snv_tumour_fraction.tsv] \\
        [--tracked results/variants/tracked_variants.tsv --states-dir results/cnv] \\
        [--alpha 0.01] [--methods cn snv] --out DIR

Writes DIR/tumour_fraction.tsv (combined, per-method columns beside it) and
DIR/tumour_fraction_baf.tsv (BAF needs --tracked and the HMM states,
``<states-dir>/<patient>/<sample>.hmm_states.tsv``). Method: docs/cnv.md, "Combined tumour
fraction"."""

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
        methods=tuple(args.methods))
    detected = int(table["tf_detected"].sum())
    print(f"{out / 'tumour_fraction.tsv'}: {detected} of {len(table)} samples detected "
          f"(alpha {args.alpha:g}, methods {'+'.join(args.methods)})")
    return 0
