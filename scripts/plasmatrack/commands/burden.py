"""``plasmatrack burden``: per-patient HER2 burden at baseline, on-treatment dynamics and the
cohort survival analyses, from stage tables (pipeline outputs or ``plasmatrack import-calls``
outputs) and the sheets. Any stage table may be left out; its components are then NA."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="plasmatrack config: takes samples, clinical, her2_gene "
                        "and the 'cohort' section from it (the flags below override)")
    parser.add_argument("--tumour-fraction", help="tumour_fraction.tsv (cnv stage)")
    parser.add_argument("--erbb2", help="erbb2.tsv (cnv stage)")
    parser.add_argument("--variants", help="tracked_variants.tsv (variants stage)")
    parser.add_argument("--mrd", help="mrd_calls.tsv (mrd stage): adds detection, response and "
                        "clearance by the pooled residual-disease call")
    parser.add_argument("--identity", help="identity_samples.tsv (qc stage): draws that failed "
                        "sample identity are left out of burden and dynamics, listed with the "
                        "reason in draw_metrics.tsv")
    parser.add_argument("--clinical", help="clinical sheet (TSV, see config/README.md)")
    parser.add_argument("--samples", help="sample sheet (restricts to its plasma draws)")
    parser.add_argument("--her2-gene", default=None, help="gene that defines HER2 (default ERBB2)")
    parser.add_argument("--metric", default=None, help="primary burden metric (default "
                        "altered_copies; also excess_copies, tumour_copy_number, "
                        "tumour_fraction, mutation_vaf)")
    parser.add_argument("--cutpoint", default=None, help="median, maxstat or a number")
    parser.add_argument("--no-survival", action="store_true", help="burden and dynamics only")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..cohort.pipeline import BurdenPaths, run_cohort_burden, run_cohort_survival
    from ..cohort.settings import CohortSettings
    from ..stats.survival import SurvivalPaths, parse_cutpoint

    section: dict = {}
    samples = args.samples
    clinical = args.clinical
    her2_gene = args.her2_gene
    if args.config:
        from ..config import load_config

        config = load_config(args.config)
        section = dict(config.get("cohort") or {})
        samples = samples or config["samples"]
        clinical = clinical or config["clinical"]
        her2_gene = her2_gene or config["her2_gene"]
    if args.metric:
        section["metric"] = args.metric
    if args.cutpoint:
        section["cutpoint"] = parse_cutpoint(args.cutpoint)
    settings = CohortSettings.from_config(section)
    out = Path(args.out)
    paths = BurdenPaths.in_folder(out)
    tables = run_cohort_burden(args.tumour_fraction, args.erbb2, args.variants, clinical,
                               samples, her2_gene or "ERBB2", settings, paths, mrd=args.mrd,
                               identity=args.identity)
    for warning in tables.warnings:
        print(f"warning: {warning}")
    if not args.no_survival and clinical:
        run_cohort_survival(paths.burden, paths.dynamics, SurvivalPaths.in_folder(out), settings)
    n = int(tables.burden["her2_burden"].notna().sum())
    print(f"ok: {len(tables.burden)} patients, {n} with a HER2 burden; tables in {out}")
    return 0
