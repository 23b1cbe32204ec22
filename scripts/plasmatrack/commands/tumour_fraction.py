"""``plasmatrack tumour-fraction``: tumour fraction, copy number and gene calls from HMMcopy
``readCounter`` WIG files (ichorCNA's inputs), without re-aligning.

    plasmatrack tumour-fraction --wig READS.wig --gc-wig GC.wig --map-wig MAP.wig \\
        [--normal-panel PON.rds|PON.tsv | --normal-wig HEALTHY.wig ...] [--centromere GAPS.txt] \\
        [--genes GENES.bed] --out DIR

Writes into DIR the pipeline's per-sample files (<sample>.cnr, .cns, .seg, .hmm_states.tsv) and
tables (tumour_fraction.tsv, genes.tsv, erbb2.tsv, detection.tsv) plus <sample>.cnv.png."""

from __future__ import annotations

import argparse

from ..cnv import DEFAULT_SEGMENT_METHOD, SEGMENT_METHODS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wig", required=True, help="read counts per bin (HMMcopy readCounter)")
    parser.add_argument("--gc-wig", required=True, help="GC content of the same bins")
    parser.add_argument("--map-wig", required=True, help="mappability of the same bins")
    parser.add_argument("--normal-panel",
                        help="panel of normals: ichorCNA .rds (read with Rscript) or TSV "
                             "(chromosome, start, end, log2 [, normal:<name> ...])")
    parser.add_argument("--normal-wig", nargs="+", default=[],
                        help="healthy-plasma WIGs to build a panel of normals from (written to "
                             "DIR/normal_panel.tsv for reuse)")
    parser.add_argument("--centromere", help="centromere table (ichorCNA gap table or BED) to mask")
    parser.add_argument("--chromosomes", nargs="+",
                        help="chromosomes to analyse (default: autosomes 1-22, with or without "
                             "'chr')")
    parser.add_argument("--min-mappability", type=float, default=0.9,
                        help="leave out bins below this mappability (default 0.9, as ichorCNA)")
    parser.add_argument("--genes", help="BED of genes (chrom, start, end, name) to call")
    parser.add_argument("--her2-gene", default="ERBB2", help="gene written to erbb2.tsv")
    parser.add_argument("--sample-id",
                        help="sample ID (default: WIG file name up to the first dot)")
    parser.add_argument("--patient-id", help="patient ID (default: the sample ID)")
    parser.add_argument("--calibrate", action="store_true",
                        help="calibrate detection on the panel's healthy profiles (leave-one-out "
                             "fits; about 1-2 s per profile) instead of the shipped default")
    parser.add_argument("--min-llr", type=float,
                        help="detection threshold on the log-likelihood ratio (overrides the "
                             "default; still raised by --calibrate if the normals need it)")
    parser.add_argument("--segment-method", default=DEFAULT_SEGMENT_METHOD, choices=SEGMENT_METHODS,
                        help="CNVkit segmentation (default haar; cbs needs R with DNAcopy)")
    parser.add_argument("--no-plot", action="store_true", help="do not write <sample>.cnv.png")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..cnv.summary import SummarySettings, command_line_floor
    from ..cnv.wig_standalone import WigInputs, WigSettings, run_wig

    table = run_wig(
        WigInputs(args.wig, args.gc_wig, args.map_wig, normal_panel=args.normal_panel,
                  normal_wigs=tuple(args.normal_wig), centromere=args.centromere,
                  genes_bed=args.genes),
        args.out, sample_id=args.sample_id, patient_id=args.patient_id,
        settings=WigSettings(
            chromosomes=tuple(args.chromosomes) if args.chromosomes else None,
            min_mappability=args.min_mappability, segment_method=args.segment_method,
            calibrate_on_panel=args.calibrate, plot=not args.no_plot),
        summary=SummarySettings(floor=command_line_floor(args.min_llr), her2_gene=args.her2_gene),
    )
    row = table[table["sample_type"] == "plasma"].iloc[0]
    state = "detected" if row["tf_detected"] else "not detected"
    print(f"{row['sample_id']}: tumour fraction {row['tumour_fraction_fit']:.3f} "
          f"(95% {row['tf_lower']:.3f}-{row['tf_upper']:.3f}), ploidy {row['ploidy_fit']:.2f}, "
          f"{state} (LLR {row['llr']:.1f}, threshold {row['min_llr']:.1f})")
    return 0
