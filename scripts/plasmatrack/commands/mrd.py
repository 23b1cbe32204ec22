"""``plasmatrack mrd --bams T1.bam T2.bam --variants tumour.tsv --controls N1.bam ... --out DIR``:
tumour-informed residual-disease calls of one patient's draws (pooled test of all its variants
against the control background), outside the pipeline, with the code the ``mrd`` rules run."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bams", nargs="+", required=True, metavar="BAM",
                        help="indexed BAMs of the patient's draws (sample ID = file name)")
    parser.add_argument("--variants", required=True,
                        help="TSV of the tumour's variants: chrom, pos (1-based), ref, alt "
                        "[, patient_id, gene, ccf, multiplicity]; column names in any case")
    parser.add_argument("--controls", nargs="*", default=[], metavar="BAM",
                        help="control BAMs for the background (normals, healthy-donor plasma)")
    parser.add_argument("--patient", default="patient",
                        help="patient ID (selects its rows when the list has patient_id)")
    parser.add_argument("--timepoints", nargs="*", type=int, default=[],
                        help="days of each draw, in the order of --bams")
    parser.add_argument("--reference", help="reference FASTA: trinucleotide-context background")
    parser.add_argument("--config", help="plasmatrack config: its 'mrd' section sets the "
                        "filters and the test (defaults otherwise)")
    parser.add_argument("--min-mapping-quality", type=int, help="override the config value")
    parser.add_argument("--min-base-quality", type=int, help="override the config value")
    parser.add_argument("--identity", help="identity_samples.tsv of a pipeline run (sample "
                        "ID = file name): draws and controls that failed identity are nobody's "
                        "control; their calls gain 'excluded' and the reason in 'note'")
    parser.add_argument("--out", required=True, help="output folder (mrd_calls.tsv, sites.tsv)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InputError
    from ..ids import id_problem
    from ..mrd.pipeline import StandaloneInputs, run_standalone
    from ..mrd.settings import MrdSettings

    if id_problem(args.patient):
        raise InputError(f"--patient: {id_problem(args.patient)}")
    settings = MrdSettings()
    if args.config:
        from ..config import load_config

        settings = MrdSettings.from_config(load_config(args.config)["mrd"])
    if args.min_mapping_quality is not None:
        settings = replace(settings, min_mapping_quality=args.min_mapping_quality)
    if args.min_base_quality is not None:
        settings = replace(settings, min_base_quality=args.min_base_quality)
    inputs = StandaloneInputs(bams=tuple(args.bams), variants=args.variants,
                              controls=tuple(args.controls), patient=args.patient,
                              timepoints=tuple(args.timepoints), reference=args.reference,
                              identity=args.identity)
    calls = run_standalone(inputs, settings, args.out)
    for row in calls.itertuples(index=False):
        print(f"{row.sample_id}: {row.status} (TF {row.tumour_fraction:.3g}, p {row.p_value:.3g}, "
              f"LoD95 {row.lod95:.3g}; {row.mutant_molecules} mutant of "
              f"{row.informative_molecules} informative molecules over {row.n_variants} variants)")
    print(f"results in {args.out}")
    return 0
