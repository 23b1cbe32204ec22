"""Speed of the consequence annotation (docs/variants.md, issue 24) against ``bcftools csq``
alone on the same sites: the whole of ``annotate_consequences`` (GFF3 reading, bcftools csq,
transcript choice, HGVS c./p.) over the time of the bcftools csq call it makes.

    .venv/bin/python benchmarks/bench_consequence.py --cohort DIR   # a `plasmatrack simulate` folder
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_survival import best_of  # noqa: E402
from plasmatrack.variants.consequence import _write_sites_vcf, annotate_consequences  # noqa: E402
from plasmatrack.variants.sites import Reference  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cohort = Path(args.cohort)
    fasta, gff = cohort / "reference" / "genome.fa", cohort / "annotation.gff3"
    truth = pd.read_csv(cohort / "truth" / "variants.tsv", sep="\t", keep_default_na=False,
                        dtype={"chrom": str, "ref": str, "alt": str})
    sites = truth.drop_duplicates(["chrom", "pos", "ref", "alt"])[["chrom", "pos", "ref", "alt"]]
    with Reference(fasta) as reference, tempfile.TemporaryDirectory() as tmp:
        vcf = Path(tmp) / "sites.vcf"
        _write_sites_vcf(sites, dict(reference.lengths), vcf)
        cmd = ["bcftools", "csq", "--local-csq", "-f", str(fasta), "-g", str(gff), str(vcf)]
        baseline = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True),
                           args.repeats)
    ours = best_of(lambda: annotate_consequences(sites, str(fasta), str(gff)), args.repeats)
    print(f"{len(sites)} sites: bcftools csq {baseline:.3f} s, annotate_consequences "
          f"{ours:.3f} s, ratio {ours / baseline:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
