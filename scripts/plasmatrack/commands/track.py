"""``plasmatrack track --bam X.bam --sites SITES.tsv --out DIR``: count and test known variant
sites in one BAM (fragment-level counts, VAF with 95% interval, background, p-value, status),
outside the pipeline. Sites: TSV (chrom, pos 1-based, ref, alt, ...) or VCF."""

from __future__ import annotations

import argparse
import copy


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="indexed BAM to track the sites in")
    parser.add_argument("--sites", required=True,
                        help="sites to track: TSV with chrom, pos (1-based), ref, alt; or a VCF")
    parser.add_argument("--out", required=True, help="output folder (tracked.tsv, counts.tsv, "
                        "tracked.vcf.gz)")
    parser.add_argument("--reference", help="reference FASTA (.fai beside it): checks ref alleles "
                        "and matches indels at every equivalent position in repeats")
    parser.add_argument("--background", help="background.tsv of a pipeline run (per-site error "
                        "model); else --controls or the flat --error-rate")
    parser.add_argument("--controls", nargs="+", default=[], metavar="BAM",
                        help="control BAMs (healthy plasma, normals) to fit the background from")
    parser.add_argument("--normal", help="matched normal BAM (classifies germline and CHIP)")
    parser.add_argument("--config", help="plasmatrack config: its 'variants' section sets the "
                        "filters and thresholds (defaults otherwise)")
    parser.add_argument("--error-rate", type=float, default=1e-4,
                        help="flat background error rate without --background/--controls "
                        "(default 1e-4)")
    parser.add_argument("--min-mapping-quality", type=int, help="override the config value")
    parser.add_argument("--min-base-quality", type=int, help="override the config value")
    parser.add_argument("--max-p-value", type=float, help="override the detection threshold")
    parser.add_argument("--patient", default="", help="patient ID written in the table")
    parser.add_argument("--collision-correction", action="store_true",
                        help="correct SNV counts for distinct molecules that duplicate marking "
                        "removed (shared fragment ends; config "
                        "variants.duplicates.collision_correction, docs/variants.md)")
    parser.add_argument("--annotation", help="Ensembl-style GFF3 transcript model (needs "
                        "--reference): adds consequence, transcript, hgvs_c and hgvs_p")
    parser.add_argument("--identity", help="identity_samples.tsv of a pipeline run (samples "
                        "named by read-group SM or file name): controls that failed identity "
                        "are not used; a BAM or normal that failed it classifies nothing and "
                        "tracked.tsv gains the column 'excluded'")


def run(args: argparse.Namespace) -> int:
    from ..config import load_schema
    from ..errors import InputError
    from ..ids import id_problem
    from ..variants.pipeline import TrackInputs, track_bam

    if args.patient and id_problem(args.patient):
        raise InputError(f"--patient: {id_problem(args.patient)}")
    if args.config:
        from ..config import load_config

        settings = copy.deepcopy(load_config(args.config)["variants"])
    else:
        settings = {}
        _fill_defaults(settings, load_schema()["properties"]["variants"])
    if args.min_mapping_quality is not None:
        settings["min_mapping_quality"] = args.min_mapping_quality
    if args.min_base_quality is not None:
        settings["min_base_quality"] = args.min_base_quality
    if args.max_p_value is not None:
        settings.setdefault("detection", {})["max_p_value"] = args.max_p_value
    if args.collision_correction:
        settings.setdefault("duplicates", {})["collision_correction"] = True
    inputs = TrackInputs(bam=args.bam, sites=args.sites, reference_fasta=args.reference,
                         background=args.background, control_bams=tuple(args.controls),
                         normal_bam=args.normal, annotation=args.annotation,
                         identity=args.identity)
    summary = track_bam(inputs, args.out, settings, args.error_rate, args.patient)
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    print(f"{summary['sample']}: {summary['sites']} sites, {summary['detected']} detected, "
          f"{summary['undetermined']} undetermined (p < {summary['threshold']:.3g}); "
          f"results in {args.out}")
    return 0


def _fill_defaults(node: dict, schema: dict) -> None:
    """Schema defaults of an object section, recursively (as the config loader does)."""
    for name, sub in schema.get("properties", {}).items():
        if "default" in sub and name not in node:
            node[name] = copy.deepcopy(sub["default"])
        if sub.get("type") == "object":
            node.setdefault(name, {})
            _fill_defaults(node[name], sub)
