"""Consequence and protein-change accuracy on the simulator's truth (docs/variants.md, issue 24).

For each seed: ``plasmatrack simulate --no-reads`` (60 patients; annotation.gff3 and the truth
``consequence`` / ``hgvs_p`` of every variant, from the simulator's own translation), then
``variants.consequence.annotate_consequences`` (bcftools csq + hgvs.py) on every distinct truth
variant. Prints, per category and variant kind (snv / insertion / deletion) and strand, how many
match the truth in both consequence and protein change.

    .venv/bin/python benchmarks/accuracy_consequence.py --seeds 1-6 --workdir DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_cnv import seed_list  # noqa: E402
from plasmatrack.variants.consequence import annotate_consequences, short_protein  # noqa: E402
from plasmatrack.variants.transcripts import read_transcripts  # noqa: E402

BIN = Path(sys.executable).parent


def compare(cohort: Path) -> pd.DataFrame:
    """Every distinct truth variant with the pipeline's annotation and ``ok`` (both match)."""
    truth = pd.read_csv(cohort / "truth" / "variants.tsv", sep="\t", keep_default_na=False,
                        dtype={"chrom": str, "ref": str, "alt": str, "gene": str})
    sites = truth.drop_duplicates(["chrom", "pos", "ref", "alt"])[
        ["chrom", "pos", "ref", "alt", "gene", "category", "consequence", "hgvs_p"]].rename(
        columns={"consequence": "truth_consequence", "hgvs_p": "truth_p"})
    fasta = cohort / "reference" / "genome.fa"
    subprocess.run(["samtools", "faidx", str(fasta)], check=True)
    got = annotate_consequences(sites, str(fasta), str(cohort / "annotation.gff3"))
    short = ["p." + short_protein(p) if p else "" for p in got["hgvs_p"]]
    strand = {t.gene: t.strand for t in read_transcripts(cohort / "annotation.gff3")}
    return got.assign(
        ok=(got["consequence"] == got["truth_consequence"]) & (pd.Series(short) == got["truth_p"]),
        kind=["snv" if len(r) == len(a) else "deletion" if len(r) > len(a) else "insertion"
              for r, a in zip(got["ref"], got["alt"])],
        strand=got["gene"].map(strand).fillna("."))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-6")
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    for seed in seed_list(args.seeds):
        cohort = Path(args.workdir) / f"seed{seed}"
        subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--force",
                        "--no-reads", "--patients", str(args.patients), "--seed", str(seed)],
                       check=True, capture_output=True)
        got = compare(cohort)
        table = got.groupby(["category", "kind", "strand"])["ok"].agg(["size", "sum"])
        print(f"seed {seed}: {int(got['ok'].sum())} of {len(got)} match\n{table.to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
