"""``plasmatrack report --results DIR --out DIR``: HTML reports (one page per patient and one for
the cohort) from the published stage tables under a results folder. Any stage may be missing:
the pages say what is not available."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True,
                        help="results folder of a run (with qc/, cnv/, variants/, ...)")
    parser.add_argument("--out", required=True, help="output folder for the HTML pages")
    parser.add_argument("--config", help="plasmatrack config YAML: sheets, genes, her2_gene, "
                        "report options and the methods section come from it")
    parser.add_argument("--samples", help="sample sheet (overrides the config's)")
    parser.add_argument("--clinical", help="clinical sheet (overrides the config's)")
    parser.add_argument("--genes", help="genes BED, to mark the HER2 gene on copy-number plots")
    parser.add_argument("--truth", help="simulator truth folder (demo runs)")
    parser.add_argument("--patient", action="append", default=None,
                        help="only this patient's page (repeatable)")
    parser.add_argument("--no-cohort", action="store_true", help="skip the cohort page")
    parser.add_argument("--pdf", action="store_true",
                        help="also print the cohort page to cohort.pdf beside it (needs "
                        "Chromium: Debian package chromium, or $PLASMATRACK_CHROMIUM)")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..errors import InputError
    from ..report.pages import ReportSettings, build_reports
    from ..report.pdf import write_pdf
    from ..report.sources import Sources, StageData

    config = load_config(args.config) if args.config else None
    results = Path(args.results)
    if not results.is_dir():
        raise InputError(f"{results}: results folder not found")
    cfg = config or {}
    sources = Sources.from_results_dir(
        results,
        samples_sheet=args.samples or cfg.get("samples"),
        clinical_sheet=args.clinical or cfg.get("clinical"),
        genes_bed=args.genes or cfg.get("genes"),
        truth=args.truth or cfg.get("truth"),
        config=config,
    )
    data = StageData(sources)
    if args.pdf and args.no_cohort:
        raise InputError("--pdf prints the cohort page: drop --no-cohort")
    patients = args.patient
    if patients:
        unknown = sorted(set(patients) - set(data.patients()))
        if unknown:
            raise InputError(f"{results}: no samples of patient(s) {', '.join(unknown)}")
    written = build_reports(data, args.out, ReportSettings.from_config(config),
                            patients=patients, cohort=not args.no_cohort)
    for path in written:
        print(path)
    if args.pdf:
        cohort = next(p for p in written if p.name == "cohort.html")
        print(write_pdf(cohort, cohort.with_suffix(".pdf")))
    return 0
