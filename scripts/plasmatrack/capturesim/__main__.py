"""``python -m plasmatrack.capturesim --out DIR --seed N``: write a capture-panel cohort."""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared with ``plasmatrack simulate-capture``)."""
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--patients", type=int, default=4, help="patients (default 4)")
    parser.add_argument("--draws", type=int, default=3, help="plasma draws per patient (default 3)")
    parser.add_argument("--fragments", type=int, default=175_000,
                        help="read pairs per sample, about (default 175000)")
    parser.add_argument("--contig-mb", type=float, default=2.0,
                        help="contig length in Mb, about (default 2)")
    parser.add_argument("--contigs", type=int, default=8, help="contigs (default 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--swap", default="", help="swap two samples' reads: A:B[,...] "
                        "(plasmatrack.simulate.identity; truth/identity.tsv)")
    parser.add_argument("--contaminate", default="", help="mix another patient's read pairs "
                        "into a sample: HOST:DONOR:FRACTION[,...]")


def run(args: argparse.Namespace) -> int:
    """Write the cohort and print where it went."""
    from .cohort import write_cohort

    if args.patients < 1 or not 1 <= args.draws <= 7 or args.contigs < 5:
        print("capturesim: need --patients >= 1, 1 <= --draws <= 7, --contigs >= 5",
              file=sys.stderr)
        return 2
    from ..errors import InputError
    from ..simulate.identity import IdentityInjection

    try:
        injection = IdentityInjection.parse(args.swap, args.contaminate)
    except InputError as exc:
        print(f"capturesim: {exc}", file=sys.stderr)
        return 2
    t0 = time.time()
    cohort = write_cohort(args.out, seed=args.seed, patients=args.patients, draws=args.draws,
                          fragments=args.fragments, contig_mb=args.contig_mb,
                          contigs=args.contigs, verbose=not args.quiet)
    if injection:
        # the shared, simulator-independent hook: it acts on the finished FASTQs
        from ..io import read_tsv, write_tsv
        from ..simulate.identity import inject

        sheet = read_tsv(cohort.out / "samples.tsv")
        write_tsv(inject(cohort.out / "fastq", sheet, injection, args.seed),
                  cohort.out / "truth" / "identity.tsv")
    n = len(cohort.truth["draws"])
    print(f"wrote {n} samples to {cohort.out} in {time.time() - t0:.1f} s "
          f"(config: {cohort.out / 'config.yaml'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plasmatrack.capturesim",
                                     description="Simulate a capture-panel cfDNA cohort.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
