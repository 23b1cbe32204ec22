#!/usr/bin/env python
"""``minimap2 -ax sr`` against ``bwa mem -Y`` in the align rule's command: CPU, wall, peak RSS,
and the somatic SNV counts of a simulated draw against truth, on the same reads.

Both aligners feed the align rule's fixmate | sort | markdup; each BAM is counted at the draw's
somatic SNVs with the pipeline's read filters (``accuracy_collisions.truth_snvs``). Needs a run
folder of ``plasmatrack simulate`` (RUN/cohort, RUN/results/reference/genome.fa with its bwa
index, e.g. a ``bench_depth.py`` low run) and ``minimap2`` (Debian package).

    .venv/bin/python benchmarks/bench_minimap2.py --run RUN [--draw P01_D1] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_collisions import truth_snvs  # noqa: E402
from bench_depth import timed  # noqa: E402
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites  # noqa: E402

ALIGNERS = {
    "bwa mem -Y": "bwa mem -Y -t {t} -R '@RG\\tID:s\\tSM:s' {fa} {r1} {r2}",
    "minimap2 -ax sr": "minimap2 -ax sr -t {t} -R '@RG\\tID:s\\tSM:s' {fa} {r1} {r2}",
}


def align(command: str, out: Path, threads: int) -> dict:
    """The align rule's pipeline after ``command``; CPU, wall and peak RSS of the whole."""
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(exist_ok=True)
    shell = (f"set -o pipefail; {command} 2>/dev/null | samtools fixmate -m -u - - | "
             f"samtools sort -u -@ {threads} -m 500M -T {tmp}/sort -o {tmp}/sorted.bam - && "
             f"samtools markdup -s -@ {threads} {tmp}/sorted.bam {out} 2>/dev/null && "
             f"samtools index {out}")
    return timed(["bash", "-c", shell], out.with_suffix(".time"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--draw", default="P01_D1")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    fasta = args.run / "results" / "reference" / "genome.fa"
    r1, r2 = (args.run / "cohort" / "fastq" / f"{args.draw}_R{k}.fastq.gz" for k in (1, 2))
    truth = truth_snvs(args.run / "cohort")
    sites = truth[truth["sample_id"] == args.draw].assign(variant_type="snv")
    sites = sites.reset_index(drop=True)
    print("aligner\tCPU s\twall s\tpeak RSS MB\tsum alt / expected\tmedian depth\tdepth vs bwa")
    depth0 = None
    for name, template in ALIGNERS.items():
        out = args.run / f"{args.draw}.{name.split()[0]}.bam"
        cost = align(template.format(t=args.threads, fa=fasta, r1=r1, r2=r2), out, args.threads)
        counts = count_sites(out, sites, ReadFilterSettings())
        n = counts["alt_count"] + counts["ref_count"]
        ratio = counts["alt_count"].sum() / (sites["expected_vaf"] * n).sum()
        depth0 = n.sum() if depth0 is None else depth0
        print(f"{name}\t{cost['cpu_s']:.1f}\t{cost['wall_s']:.1f}\t{cost['rss_mb']:.0f}\t"
              f"{ratio:.3f}\t{n.median():.0f}\t{n.sum() / depth0:.3f}")


if __name__ == "__main__":
    main()
