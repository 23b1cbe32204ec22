"""``plasmatrack validate --config CONFIG``: check a config, its sheets, reference and BEDs, and
print every problem (file, row, column) or a one-line summary of the cohort."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="plasmatrack config YAML")
    parser.add_argument("--no-file-check", action="store_true",
                        help="do not check that read files exist (sheets only)")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..reference import prepare_beds
    from ..sheets import load_clinical, load_samples

    config = load_config(args.config)
    samples = load_samples(config["samples"], check_files=not args.no_file_check)
    clinical = load_clinical(config["clinical"], patients=set(samples["patient_id"]))
    with tempfile.TemporaryDirectory() as tmp:
        warnings = prepare_beds(
            config["reference"]["fasta"], config["genes"], config["her2_gene"], config["panel"],
            Path(tmp) / "genes.bed", Path(tmp) / "panel.bed" if config["panel"] else None,
        )
    for warning in clinical.warnings + warnings:
        print(f"warning: {warning}")
    n_plasma = int((samples["sample_type"] == "plasma").sum())
    print(
        f"ok: {samples['patient_id'].nunique()} patients, {n_plasma} plasma and "
        f"{len(samples) - n_plasma} normal samples, {len(clinical.table)} clinical rows"
    )
    return 0
