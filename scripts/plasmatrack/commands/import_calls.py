"""``plasmatrack import-calls``: turn a long table of external plasma calls (patient, draw date,
gene, alteration, VAF, plasma copy number; e.g. Guardant360 exports) into plasmatrack's stage
tables and the same per-patient HER2 metrics (patients.tsv) and dynamics, optionally joined with
a clinical table so that ``plasmatrack survival`` can run on patients.tsv directly."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", required=True, help="long table of calls (.csv or TSV)")
    parser.add_argument("--patient-col", default="patient_id")
    parser.add_argument("--date-col", default="draw_date",
                        help="draw date: days (any origin) or calendar dates")
    parser.add_argument("--gene-col", default="gene")
    parser.add_argument("--alteration-col", default="alteration")
    parser.add_argument("--vaf-col", default="vaf")
    parser.add_argument("--copy-number-col", default="plasma_copy_number")
    parser.add_argument("--vaf-unit", default="percent", choices=["percent", "fraction"],
                        help="unit of the VAF column (default percent, as vendor reports)")
    parser.add_argument("--tf-from", default="2x_max_vaf", choices=["2x_max_vaf", "max_vaf"],
                        help="tumour fraction of a draw from its largest VAF")
    parser.add_argument("--her2-gene", default="ERBB2")
    parser.add_argument("--clinical", help="clinical table (.csv or TSV) joined to patients.tsv")
    parser.add_argument("--clinical-patient-col", default="patient_id")
    parser.add_argument("--start-col", default=None,
                        help="clinical column with the treatment start (same units as the draw "
                             "dates); default: day 0 = each patient's first draw")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..import_calls import CallColumns, import_calls, parse_days, patient_table, read_table, \
        write_imported

    calls = read_table(args.calls)
    columns = CallColumns(patient=args.patient_col, date=args.date_col, gene=args.gene_col,
                          alteration=args.alteration_col, vaf=args.vaf_col,
                          copy_number=args.copy_number_col)
    clinical = read_table(args.clinical) if args.clinical else None
    day_zero = None
    if args.start_col:
        if clinical is None or args.start_col not in clinical.columns:
            from ..errors import InputError

            raise InputError(f"--start-col {args.start_col!r} needs a --clinical table with "
                             "that column")
        starts = parse_days(clinical[args.start_col], str(args.clinical), args.start_col)
        day_zero = dict(zip(clinical[args.clinical_patient_col].astype(str).str.strip(), starts))
    imported = import_calls(calls, columns, vaf_unit=args.vaf_unit, her2_gene=args.her2_gene,
                            tf_from=args.tf_from, day_zero=day_zero, source=str(args.calls))
    patients, dynamics = patient_table(imported, clinical, args.clinical_patient_col,
                                       args.her2_gene)
    paths = write_imported(imported, args.out, patients, dynamics)
    for warning in imported.warnings:
        print(f"note: {warning}")
    print(f"ok: {imported.draws['patient_id'].nunique()} patients, {len(imported.draws)} draws; "
          f"per-patient table {paths['patients']}")
    return 0
