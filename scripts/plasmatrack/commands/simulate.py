"""``plasmatrack simulate --out DIR``: write a demo cohort with known truth
(see docs/simulator.md)."""

from __future__ import annotations

import argparse
import os


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from ..simulate import DEFAULT_READ_PAIRS

    parser.add_argument("--out", required=True, help="cohort folder to create")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--patients", type=int, default=8, help="number of patients (default 8)")
    parser.add_argument("--draws", type=int, default=3,
                        help="plasma draws per patient: baseline, on treatment..., progression "
                             "(default 3)")
    parser.add_argument("--read-pairs", type=int, default=DEFAULT_READ_PAIRS,
                        help="read pairs per plasma sample incl. duplicates, +/-15%%; normals get "
                             f"70%% of it (default {DEFAULT_READ_PAIRS})")
    parser.add_argument("--dilution", action="store_true",
                        help="a dilution series for copy-number accuracy instead of a serial "
                             "cohort")
    parser.add_argument("--healthy-donors", type=int, default=0,
                        help="with --dilution: add N healthy donors (one tumour-free plasma draw "
                             "each) and make them the panel of normals (cnv.reference_pool: "
                             "healthy) instead of the buffy-coat normals (default 0)")
    parser.add_argument("--mrd", action="store_true",
                        help="a tumour-informed residual-disease cohort as molecule counts "
                             "(tissue lists with false variants, counts, truth; docs/mrd.md) "
                             "instead of reads")
    parser.add_argument("--no-reads", action="store_true",
                        help="write reference, BEDs, sheets and truth but no FASTQ")
    parser.add_argument("--swap", default="",
                        help="swap the reads of two samples of different patients: "
                             "SAMPLE_A:SAMPLE_B[,...] (truth/identity.tsv says which)")
    parser.add_argument("--contaminate", default="",
                        help="replace a fraction of a sample's read pairs by another patient's "
                             "sample's: HOST:DONOR:FRACTION[,...], e.g. P01_D2:P03_D1:0.05")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR when it holds another or an unfinished cohort")
    parser.add_argument("--umi", choices=("none", "single", "duplex"), default="none",
                        help="a UMI library: PCR families per strand with the UMI at the end of "
                             "the read names (single: one UMI per strand; duplex: ALPHA+BETA, "
                             "BETA+ALPHA on the other strand); none: plain duplicates (default)")
    parser.add_argument("--umi-length", type=int, default=8,
                        help="UMI bases per adapter (default 8; duplex names carry two)")
    parser.add_argument("--umi-family-size", type=float, default=4.0,
                        help="mean read pairs per molecule strand, sequenced or not (default 4)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes for the reads (default 2; output does not depend "
                             "on it)")


def run(args: argparse.Namespace) -> int:
    from ..simulate import SimulateSettings, simulate_cohort

    if args.mrd:
        from ..simulate.mrd import MrdCohortSettings, write_mrd_cohort

        write_mrd_cohort(args.out, args.seed, MrdCohortSettings(patients=args.patients,
                                                                draws=args.draws))
        return 0
    params = SimulateSettings(seed=args.seed, patients=args.patients, draws=args.draws,
                    read_pairs=args.read_pairs, dilution=args.dilution,
                    healthy_donors=args.healthy_donors, no_reads=args.no_reads,
                    umi=args.umi, umi_length=args.umi_length,
                    umi_family_size=args.umi_family_size,
                    swap=args.swap, contaminate=args.contaminate)
    simulate_cohort(args.out, params, force=args.force, threads=max(1, args.threads))
    return 0
