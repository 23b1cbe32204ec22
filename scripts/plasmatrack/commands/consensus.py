"""``plasmatrack consensus``: UMI molecules of a BAM (the ``umi`` stage's own code).

``plasmatrack consensus --bam IN.bam --out DIR [--umi-mode single|duplex]`` writes
``DIR/<sample>.consensus.bam`` (+ ``.bai``), ``DIR/<sample>.umi.tsv`` and
``DIR/<sample>.umi_family_sizes.tsv``. ``plasmatrack consensus extract --r1 --r2 --out DIR
--read-structures 8M2S+T 8M2S+T`` cuts inline UMIs out of a FASTQ pair into the read names
(``DIR/<sample>_R1.fastq.gz``, ``_R2``), ready for ``bwa mem``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("call", "extract"), default="call",
                        help="call (default): consensus of a BAM; extract: inline UMIs of FASTQs")
    parser.add_argument("--bam", help="coordinate-sorted BAM with UMIs in the names or RX (call)")
    parser.add_argument("--r1", help="R1 FASTQ (extract)")
    parser.add_argument("--r2", help="R2 FASTQ (extract)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--sample-id", help="sample ID for file names and tables (default: the "
                        "input file name)")
    parser.add_argument("--patient-id", default="", help="patient ID written to the table")
    parser.add_argument("--config", help="plasmatrack config YAML whose 'umi' section is used "
                        "(default: the schema defaults); the options below override it")
    parser.add_argument("--umi-mode", choices=("single", "duplex"), help="umi.mode")
    parser.add_argument("--umi-source", choices=("read_name", "inline", "tag"),
                        help="umi.source")
    parser.add_argument("--read-structures", nargs=2, metavar=("R1", "R2"),
                        help="umi.read_structures (extract)")
    parser.add_argument("--max-edits", type=int, help="umi.max_edits")
    parser.add_argument("--min-reads", type=int, help="umi.min_reads")
    parser.add_argument("--reference", help="FASTA: adds error rates at reference positions")
    parser.add_argument("--panel", help="BED of targets: adds the on-target molecule count")
    parser.add_argument("--grouped-bam", action="store_true",
                        help="also write DIR/<sample>.grouped.bam: input reads with MI tags")


def _settings(args: argparse.Namespace):
    from ..umi import UmiSettings

    section = {}
    if args.config:
        from ..config import load_config

        section = load_config(args.config)["umi"]
    settings = UmiSettings.from_config(section)
    overrides = {"mode": args.umi_mode, "source": args.umi_source,
                 "max_edits": args.max_edits, "min_reads": args.min_reads,
                 "read_structures": tuple(args.read_structures or ()) or None}
    if args.action == "extract":
        overrides["source"] = "inline"
    return dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _sample_id(args: argparse.Namespace, path: str) -> str:
    from ..errors import InputError
    from ..ids import id_problem

    name = Path(path).name
    for suffix in (".gz", ".fastq", ".fq", ".bam", "_R1", "_1"):
        name = name.removesuffix(suffix)
    sample_id = args.sample_id or name
    if id_problem(sample_id):
        raise InputError(f"sample ID {id_problem(sample_id)}; name the sample with --sample-id")
    return sample_id


def _extract(args: argparse.Namespace, out: Path) -> int:
    from ..errors import InputError
    from ..umi.pipeline import run_extract

    if not (args.r1 and args.r2):
        raise InputError("plasmatrack consensus extract needs --r1 and --r2")
    sample_id = _sample_id(args, args.r1)
    outs = [out / f"{sample_id}_R1.fastq.gz", out / f"{sample_id}_R2.fastq.gz"]
    counts = run_extract(args.r1, args.r2, *outs, _settings(args))
    print(f"{sample_id}: {counts.pairs} read pairs; wrote {outs[0]} and {outs[1]}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..umi.pipeline import ConsensusInputs, run_consensus

    out = Path(args.out)
    if args.action == "extract":
        return _extract(args, out)
    if not args.bam:
        raise InputError("plasmatrack consensus needs --bam (or the extract action)")
    settings = _settings(args)
    if not settings.enabled:
        settings = dataclasses.replace(settings, mode="single")
    sample_id = _sample_id(args, args.bam)
    row = run_consensus(
        args.bam, out / f"{sample_id}.consensus.bam", out / f"{sample_id}.umi.tsv", settings,
        family_sizes_tsv=out / f"{sample_id}.umi_family_sizes.tsv",
        inputs=ConsensusInputs(reference=args.reference, panel=args.panel),
        sample_id=sample_id, patient_id=args.patient_id,
        grouped_bam=out / f"{sample_id}.grouped.bam" if args.grouped_bam else None)
    print(f"{sample_id}: {row['reads']} reads, {row['families']} families "
          f"({row['families_ge2']} with >= 2 reads), {row['molecules']} molecules, "
          f"{row['duplex_molecules']} duplex; wrote {out / f'{sample_id}.consensus.bam'}",
          file=sys.stdout)
    return 0
