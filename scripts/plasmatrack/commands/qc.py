"""``plasmatrack qc --bam X.bam --out DIR``: the pipeline's per-sample QC for any BAM.

Writes ``DIR/<sample>.qc.tsv`` (one row; columns in docs/qc.md) and
``DIR/<sample>.fragment_lengths.tsv`` (length, count), and with ``--fingerprint-sites`` the
sample's identity fingerprint ``DIR/<sample>.fingerprint.tsv`` (as the rule ``qc_sample``), then
prints the verdict. A failed QC is a result, not an error: the exit status is 0 whenever the
metrics could be computed."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="coordinate-sorted, indexed BAM")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--panel", help="BED of capture targets: adds on-target fraction and depth")
    parser.add_argument("--sample-type", choices=("plasma", "normal"), default="plasma",
                        help="plasma samples also get the fragment-mode check (default: plasma)")
    parser.add_argument("--sample-id", help="sample ID for the tables and file names (default: "
                        "the read group's SM when there is one, else the BAM file name)")
    parser.add_argument("--patient-id", default="", help="patient ID written to the table")
    parser.add_argument("--timepoint-days", type=int, help="days from treatment start")
    parser.add_argument("--config", help="plasmatrack config YAML whose 'qc' section sets the "
                        "thresholds (default: the schema defaults)")
    parser.add_argument("--threads", type=int, default=1, help="BAM decompression threads")
    parser.add_argument("--fingerprint-sites", help="fingerprint sites table of a run "
                        "(results/qc/fingerprint_sites.tsv): also write the sample's identity "
                        "fingerprint, DIR/<sample>.fingerprint.tsv (filters from the config's "
                        "qc.identity with --config)")


def _default_sample_id(bam: Path) -> str:
    import pysam

    try:
        with pysam.AlignmentFile(str(bam), "rb") as handle:
            names = {rg.get("SM") for rg in handle.header.to_dict().get("RG", []) if rg.get("SM")}
    except (OSError, ValueError):
        names = set()
    if len(names) == 1:
        return names.pop()
    return bam.name.removesuffix(".bam")


def _fingerprint_job(args: argparse.Namespace, prefix: Path, qc_section: dict | None):
    """The identity fingerprint to count with the QC, when ``--fingerprint-sites`` asks."""
    if not args.fingerprint_sites:
        return None
    from ..errors import InputError
    from ..qc.identity import IdentitySettings
    from ..qc.identity_pipeline import FingerprintJob

    if not Path(args.fingerprint_sites).is_file():
        raise InputError(f"{args.fingerprint_sites}: fingerprint sites table not found")
    settings = IdentitySettings.from_config((qc_section or {}).get("identity", {}))
    return FingerprintJob(args.fingerprint_sites, f"{prefix}.fingerprint.tsv", settings)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..ids import id_problem
    from ..qc import run_sample_qc

    bam = Path(args.bam)
    sample_id = args.sample_id or _default_sample_id(bam)
    problem = id_problem(sample_id)
    if problem:
        raise InputError(f"sample ID {problem}; name the sample with --sample-id")
    if args.patient_id and id_problem(args.patient_id):
        raise InputError(f"--patient-id {id_problem(args.patient_id)}")
    thresholds = None
    if args.config:
        from ..config import load_config

        thresholds = load_config(args.config)["qc"]
    out = Path(args.out)
    row = run_sample_qc(
        bam, out / f"{sample_id}.qc.tsv", out / f"{sample_id}.fragment_lengths.tsv",
        sample_id=sample_id, patient_id=args.patient_id, sample_type=args.sample_type,
        timepoint_days=args.timepoint_days, panel=args.panel, thresholds=thresholds,
        threads=args.threads, fingerprint=_fingerprint_job(args, out / sample_id, thresholds),
    )
    verdict = "PASS" if row["qc_pass"] else f"FAIL ({row['qc_reason']})"
    print(f"{sample_id}: {row['total_reads']} reads, mapped {row['mapped_fraction']:.3f}, "
          f"duplicates {row['duplicate_rate']:.3f}, fragment mode {row['fragment_mode']:.0f} bp: "
          f"{verdict}")
    print(f"wrote {out / f'{sample_id}.qc.tsv'} and {out / f'{sample_id}.fragment_lengths.tsv'}"
          + (f" and {out / f'{sample_id}.fingerprint.tsv'}" if args.fingerprint_sites else ""))
    return 0
