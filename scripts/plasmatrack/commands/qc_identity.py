"""``plasmatrack qc-identity --sheet S.tsv --reference R.fa --out DIR``: the pipeline's sample
identity and contamination checks for any set of BAMs (docs/qc.md, "Sample identity").

The sheet is a TSV with sample_id, patient_id, sample_type (plasma or normal) and bam (paths
relative to the sheet). Writes DIR/fingerprint_sites.tsv, DIR/<sample>.fingerprint.tsv,
DIR/identity.tsv (pairs) and DIR/identity_samples.tsv (verdicts), the rules' tables."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheet", required=True,
                        help="TSV: sample_id, patient_id, sample_type, bam")
    parser.add_argument("--reference", required=True, help="reference FASTA (indexed)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--panel", help="panel BED to discover sites on (without --sites)")
    parser.add_argument("--sites", help="VCF of SNP sites to fingerprint (qc.identity."
                        "fingerprint_sites); default: discovered on the panel")
    parser.add_argument("--config", help="plasmatrack config YAML whose qc.identity section "
                        "sets the thresholds (default: the schema defaults)")


def _sheet(path: Path):
    from ..errors import InputError, where
    from ..ids import id_problem
    from ..io import read_tsv

    if not path.is_file():
        raise InputError(f"{path}: sample sheet not found")
    sheet = read_tsv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("sample_id", "patient_id", "sample_type", "bam")
               if c not in sheet.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    problems = []
    for i, row in sheet.iterrows():
        for column in ("sample_id", "patient_id"):
            problem = id_problem(row[column])
            if problem:
                problems.append(f"{where(path, i + 2, column)}: {problem}")
        if row["sample_type"] not in ("plasma", "normal"):
            problems.append(f"{where(path, i + 2, 'sample_type')}: {row['sample_type']!r} is "
                            "not plasma or normal")
    if problems:
        raise InputError(problems)
    sheet["bam"] = [str((path.parent / b).resolve()) for b in sheet["bam"]]
    return sheet


def run(args: argparse.Namespace) -> int:
    from ..qc.identity import IdentitySettings
    from ..qc.identity_pipeline import (IdentityPaths, run_fingerprint, run_fingerprint_sites,
                                        run_identity)

    section = {}
    if args.config:
        from ..config import load_config

        section = load_config(args.config)["qc"]["identity"]
    if args.sites:
        section = {**section, "fingerprint_sites": str(Path(args.sites).resolve())}
    settings = IdentitySettings.from_config(section)
    sheet = _sheet(Path(args.sheet))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    normals = sheet[sheet["sample_type"] == "normal"]
    site_bams = list((normals if len(normals) else sheet)["bam"])
    run_fingerprint_sites(out / "fingerprint_sites.tsv", settings, args.reference,
                          bams=site_bams, panel=args.panel)
    fingerprints = [out / f"{s}.fingerprint.tsv" for s in sheet["sample_id"]]
    for bam, path in zip(sheet["bam"], fingerprints):
        run_fingerprint(bam, out / "fingerprint_sites.tsv", path, settings)
    paths = IdentityPaths(fingerprints, out / "fingerprint_sites.tsv", out / "identity.tsv",
                          out / "identity_samples.tsv")
    _, samples = run_identity(sheet, paths, settings)
    for row in samples.itertuples():
        conta = "" if row.contamination != row.contamination else \
            f", contamination {row.contamination:.3f}"
        print(f"{row.sample_id}: {row.identity_status} (best match {row.best_match or '-'}"
              f"{conta}){': ' + row.identity_reason if row.identity_reason else ''}")
    print(f"wrote {paths.identity} and {paths.samples}")
    return 0
