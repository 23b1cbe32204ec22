"""The ``plasmatrack`` command line: one subcommand per stage, each a thin layer over the same
package functions the Snakemake rules call. Subcommand modules are imported only when used, so
``plasmatrack --help`` stays fast and one stage's dependencies never slow another."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import PlasmatrackError

# name -> (module under plasmatrack.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "validate a config and its sample and clinical sheets"),
    "simulate": ("simulate", "simulate a demo cohort with known truth"),
    "simulate-capture": ("simulate_capture", "simulate a capture-panel cohort (independent model)"),
    "qc": ("qc", "alignment and cfDNA fragment QC for a BAM"),
    "qc-identity": ("qc_identity", "sample identity (swaps) and contamination of BAMs"),
    "cnv": ("cnv", "copy number, tumour fraction and gene calls for a BAM or CNVkit .cnr"),
    "tumour-fraction": ("tumour_fraction", "tumour fraction from HMMcopy/ichorCNA WIG read counts"),
    "cnv-combine": ("cnv_combine", "one tumour fraction per draw from copy number, SNVs and BAF"),
    "track": ("track", "count tracked variant sites in a BAM with a background model"),
    "clones": ("clones", "cluster variants into clones and follow them over time"),
    "burden": ("burden", "per-patient HER2 burden and dynamics from stage tables"),
    "import-calls": ("import_calls", "import external plasma calls (e.g. commercial panels)"),
    "survival": ("survival", "Kaplan-Meier, log-rank, cut-points and Cox on any table"),
    "report": ("report", "HTML reports per patient and for the cohort"),
    "consensus": ("consensus", "UMI molecules: grouping, single-strand and duplex consensus"),
    "mrd": ("mrd", "residual disease per draw: pooled tumour-informed test with a LoD"),
}
# A stage's name also names its command where the command is older than the stage's name:
# `plasmatrack variants` is `plasmatrack track`, and so on (docs/architecture.md, "Stages").
ALIASES: dict[str, str] = {"variants": "track", "clonal": "clones", "cohort": "burden",
                           "umi": "consensus"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plasmatrack",
        description="Serial plasma cfDNA analysis: every pipeline stage as a standalone command.",
    )
    parser.add_argument("--version", action="version", version=f"plasmatrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    aliases_of = {name: [a for a, n in ALIASES.items() if n == name] for name in COMMANDS}
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, aliases=aliases_of[name], help=help_text,
                                    description=help_text)
        if name == only:
            mod = importlib.import_module(f"plasmatrack.commands.{module}")
            mod.configure_parser(sub_parser)
            sub_parser.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    command = ALIASES.get(command, command)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except PlasmatrackError as exc:
        print(f"plasmatrack {args.command}: error:\n{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
