"""``plasmatrack survival``: Kaplan-Meier, log-rank, cut-points and Cox on any table (CSV or TSV),
e.g. a cohort analysed with a commercial plasma panel. Writes survival.tsv, km_curves.tsv,
km_at_risk.tsv, cox_terms.tsv and maxstat_cuts.tsv into --out."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="input table (.csv comma-separated, else TSV)")
    parser.add_argument("--time-col", required=True, help="column of follow-up times")
    parser.add_argument("--event-col", required=True, help="column of event flags (1 = event, 0 = censored)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--group-col", help="compare the groups of this column")
    how.add_argument("--marker-col", help="split this numeric marker into high/low (and Cox on it)")
    parser.add_argument("--cutpoint", default="median",
                        help="marker split: median (default), maxstat, or a number "
                             "(low = marker <= cut-point)")
    parser.add_argument("--covariates", default="",
                        help="comma-separated columns to adjust the Cox models for")
    parser.add_argument("--reference", default=None,
                        help="reference group of the hazard ratio (default: 'low' for a marker "
                             "split, the first group in sorted order otherwise)")
    parser.add_argument("--complete-cases", default="",
                        help="comma-separated columns that must be present for a row to be used")
    parser.add_argument("--time-divisor", type=float, default=1.0,
                        help="divide times by this (e.g. 30 to turn days into months)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="keep only rows with time (after division) strictly above this, e.g. "
                             "0 to drop events at or before the first draw; negative times are "
                             "always dropped")
    parser.add_argument("--no-log", action="store_true",
                        help="Cox on the marker itself instead of its natural log")
    parser.add_argument("--log-offset", type=float, default=0.0,
                        help="added to the marker before taking the log (for zeros)")
    parser.add_argument("--min-prop", type=float, default=0.1,
                        help="maxstat: smallest fraction of patients in either group (default 0.1)")
    parser.add_argument("--permutations", type=int, default=2000,
                        help="maxstat permutations for the Monte Carlo p-value (0 = none)")
    parser.add_argument("--maxstat-p", default="gauss",
                        choices=["gauss", "lausen94", "lausen92", "permutation"],
                        help="which adjusted p-value of a maxstat cut fills p_value_adjusted")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the permutations")
    parser.add_argument("--endpoint", default=None, help="endpoint name in the output "
                        "(default: the time column)")
    parser.add_argument("--out", required=True, help="output folder")


def _split(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _analysis(args: argparse.Namespace):
    from ..stats.survival import TableAnalysis

    return TableAnalysis(
        args.time_col, args.event_col, group_col=args.group_col, marker_col=args.marker_col,
        cutpoint=args.cutpoint, covariates=_split(args.covariates), reference=args.reference,
        log_marker=not args.no_log, log_offset=args.log_offset,
        time_divisor=args.time_divisor, min_time=args.min_time,
        complete_cols=_split(args.complete_cases), endpoint=args.endpoint)


def _settings(args: argparse.Namespace):
    from ..stats.survival import SurvivalSettings

    return SurvivalSettings(min_prop=args.min_prop, permutations=args.permutations,
                            seed=args.seed, maxstat_p=args.maxstat_p)


def summary_line(row) -> str:
    """One printed line per survival.tsv row; a missing HR or p (NA for a 3+-group log-rank,
    NaN when not estimable) is left out or printed as NA, not compared."""
    import pandas as pd

    hr = ("" if pd.isna(row["hazard_ratio"])
          else f", HR {row['hazard_ratio']:.3g} ({row['hr_lower']:.3g}-{row['hr_upper']:.3g})")
    p = row["p_value_adjusted"]
    p_text = "p NA" if pd.isna(p) else f"p = {p:.3g}"
    small = " [small cohort]" if row["small_cohort"] is True else ""
    return f"{row['analysis']}: n = {row['n']}, events = {row['events']}, {p_text}{hr}{small}"


def run(args: argparse.Namespace) -> int:
    from ..import_calls import read_table
    from ..stats.survival import SurvivalPaths, analyze_table, write_results

    table = read_table(args.table)
    results = analyze_table(table, _analysis(args), _settings(args), source=str(args.table))
    paths = write_results(results, SurvivalPaths.in_folder(args.out))
    for warning in results.warnings:
        print(f"note: {warning}")
    for _, row in results.table().iterrows():
        print(summary_line(row))
    print(f"tables written: {paths['survival']} (+ km_curves, km_at_risk, cox_terms, maxstat_cuts)")
    return 0
