"""``plasmatrack cnv``: copy number, tumour fraction and gene calls for one sample, outside the
pipeline, from a BAM or from a CNVkit ``.cnr``.

    plasmatrack cnv --cnr SAMPLE.cnr [--genes GENES.bed] --out DIR
    plasmatrack cnv --bam SAMPLE.bam --fasta REF.fa [--panel PANEL.bed] --genes GENES.bed \\
        (--normal-bam N1.bam N2.bam ... | --reference REF.cnn) [--size-selection 90 150] \\
        [--identity identity_samples.tsv] --out DIR

From a BAM, the bins, coverage, panel of normals (pooled from the normal BAMs, or a CNVkit
reference .cnn made elsewhere, or flat with a warning when neither is given) and fix are the
pipeline's. Normal BAMs are also normalised leave-one-out and calibrate detection, as in the
pipeline; without them the configured default threshold applies. With ``--identity``, normals
that failed sample identity or are contaminated are left out of both, as in the pipeline.
Writes into DIR: <sample>.cnr, .cns, .seg, .hmm_states.tsv, tumour_fraction.tsv, genes.tsv,
erbb2.tsv, detection.tsv."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cnv import DEFAULT_SEGMENT_METHOD, SEGMENT_METHODS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--bam", help="sorted, indexed BAM of the sample")
    src.add_argument("--cnr", help="CNVkit .cnr of the sample (bins already normalised)")
    parser.add_argument("--fasta", help="reference FASTA (with --bam)")
    parser.add_argument("--panel", help="capture targets BED (with --bam; omit for whole-genome)")
    parser.add_argument("--genes", help="BED of genes (chrom, start, end, name) to call")
    parser.add_argument("--her2-gene", default="ERBB2", help="gene written to erbb2.tsv")
    parser.add_argument("--normal-bam", nargs="+", default=[],
                        help="normal / healthy-plasma BAMs for the panel of normals (pooled "
                        "and shrunk as with the pipeline's defaults; docs/cnv.md, 'Reference "
                        "shrinkage')")
    parser.add_argument("--reference", help="a panel-of-normals .cnn written by plasmatrack "
                        "(results/cnv/reference.cnn of a run); one from cnvkit.py reference "
                        "pools GC-corrected coverage, which the robust correction does not "
                        "expect (docs/cnv.md, 'Reference correction')")
    parser.add_argument("--identity", help="identity_samples.tsv of a pipeline run (normals "
                        "named by file name before the first dot): normals that failed identity "
                        "or are contaminated are left out of the panel of normals and the "
                        "calibration, as in the pipeline; a warning names each")
    parser.add_argument("--sample-id", help="sample ID (default: file name before the first dot)")
    parser.add_argument("--patient-id", help="patient ID (default: the sample ID)")
    parser.add_argument("--bin-size", type=int, default=100_000,
                        help="whole-genome bin size / antitarget bin size (bp, default 100000)")
    parser.add_argument("--min-mapq", type=int, default=20, help="minimum mapping quality (20)")
    parser.add_argument("--size-selection", type=int, nargs=2, metavar=("MIN", "MAX"),
                        help="count only fragments of MIN-MAX bp (e.g. 90 150)")
    parser.add_argument("--segment-method", default=DEFAULT_SEGMENT_METHOD, choices=SEGMENT_METHODS,
                        help="CNVkit segmentation (default haar; cbs needs R with DNAcopy)")
    parser.add_argument("--min-llr", type=float, help="detection LLR threshold floor (14)")
    parser.add_argument("--plot", action="store_true", help="also write <sample>.cnv.png")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..cnv.standalone import StandaloneInputs, StandaloneSettings, run_standalone
    from ..cnv.summary import SummarySettings, command_line_floor
    from ..errors import InputError

    if args.bam and not args.fasta:
        raise InputError("--bam needs --fasta (GC content and the accessible genome)")
    source = args.bam or args.cnr
    table = run_standalone(
        Path(args.out), args.sample_id or Path(source).name.split(".")[0],
        StandaloneInputs(bam=args.bam, cnr=args.cnr, fasta=args.fasta, panel=args.panel,
                         genes=args.genes, normal_bams=tuple(args.normal_bam),
                         reference_cnn=args.reference, identity=args.identity),
        patient_id=args.patient_id,
        settings=StandaloneSettings(
            bin_size=args.bin_size, min_mapq=args.min_mapq,
            size_selection=tuple(args.size_selection) if args.size_selection else None,
            segment_method=args.segment_method, plot=args.plot),
        summary=SummarySettings(floor=command_line_floor(args.min_llr), her2_gene=args.her2_gene),
    )
    row = table[table["sample_type"] != "normal"].iloc[0]
    state = "detected" if row["tf_detected"] else "not detected"
    print(f"{row['sample_id']}: tumour fraction {row['tumour_fraction_fit']:.3f} "
          f"(95% {row['tf_lower']:.3f}-{row['tf_upper']:.3f}), {state} "
          f"(LLR {row['llr']:.1f}, threshold {row['min_llr']:.1f}); reference: {row['reference']}"
          + (f"; WARNING: {row['warning']}" if row["warning"] else ""))
    return 0
