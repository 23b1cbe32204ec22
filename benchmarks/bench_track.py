"""Benchmark: tracking N sites in one BAM with plasmatrack's fragment counter, as a ratio to
``bcftools mpileup -R sites`` on the same BAM and sites, same machine, same run.

    .venv/bin/python benchmarks/bench_track.py                      # synthetic BAM (default)
    .venv/bin/python benchmarks/bench_track.py --sites 200 --depth 2000
    .venv/bin/python benchmarks/bench_track.py --bam S.bam --reference genome.fa \
        --site-table sites.tsv                                      # any BAM + site table

Both sides apply the same filters: mapping quality >= 40, base quality >= 30, no depth cap
(bcftools -d 1000000), duplicates/secondary/supplementary/QC-fail excluded (bcftools' default
--skip-any-set, plus ours). bcftools also computes genotype likelihoods, and by default BAQ; it
is timed both with and without BAQ (-B). Each side is run ``--repeats`` times, alternating, and
the fastest run of each is compared (the machine is shared; the minimum is the least disturbed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from plasmatrack.variants import synthetic as syn  # noqa: E402
from plasmatrack.variants.pileup import ReadFilters, count_sites  # noqa: E402
from plasmatrack.variants.sites import validate_sites  # noqa: E402


def synthetic_case(root: Path, n_sites: int, depth: int, seed: int = 1):
    """A BAM with ``n_sites`` SNVs 1.5 kb apart, each covered by ``depth`` fragments (2% alt),
    mates overlapping as in cfDNA."""
    spacing = 1500
    genome = syn.random_genome({"chr1": spacing * (n_sites + 2)}, seed=seed)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    rng = np.random.default_rng(seed)
    frags, rows = [], []
    for k in range(n_sites):
        pos = spacing * (k + 1) + 1
        ref = genome["chr1"][pos - 1]
        alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
        n_alt = depth // 50
        frags += syn.site_fragments(genome, "chr1", pos, ref, alt, depth - n_alt, n_alt, rng,
                                    prefix=f"s{k}_")
        rows.append(("chr1", pos, ref, alt))
    bam = syn.write_bam(root / "sample.bam", genome, frags, error_rate=0.001, seed=seed)
    return bam, fasta, pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])


def bcftools_command(bam: Path, fasta: Path, regions: Path, baq: bool) -> list[str]:
    exe = shutil.which("bcftools")
    base = [exe, "mpileup"] if exe else [sys.executable, "-c",
                                          "import sys, pysam.bcftools as b; "
                                          "b.mpileup(*sys.argv[1:], catch_stdout=False)"]
    cmd = base + ["-f", str(fasta), "-R", str(regions), "-d", "1000000", "-q", "40", "-Q", "30",
                  "-a", "AD,ADF,ADR,DP", "-Ou", "-o", "/dev/null"]
    if not baq:
        cmd.append("-B")
    return cmd + [str(bam)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100, help="synthetic: number of sites")
    parser.add_argument("--depth", type=int, default=2000, help="synthetic: fragments per site")
    parser.add_argument("--bam", help="use this BAM instead of a synthetic one")
    parser.add_argument("--reference", help="FASTA of --bam")
    parser.add_argument("--site-table", help="TSV (chrom, pos, ref, alt) of sites in --bam")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.bam:
            bam, fasta = Path(args.bam), Path(args.reference)
            sites = pd.read_csv(args.site_table, sep="\t", dtype={"chrom": str})
            label = f"{bam.name}, {len(sites)} sites"
        else:
            t0 = time.perf_counter()
            bam, fasta, sites = synthetic_case(root, args.sites, args.depth)
            label = (f"synthetic, {args.sites} sites x {args.depth} fragments "
                     f"(built in {time.perf_counter() - t0:.1f} s)")
        sites, _ = validate_sites(sites, "sites")
        regions = root / "regions.tsv"
        # bcftools -R: CHROM, BEG, END (1-based, inclusive); an indel spans its ref allele.
        pd.DataFrame({"chrom": sites["chrom"], "beg": sites["pos"],
                      "end": sites["pos"] + sites["ref"].str.len() - 1}).sort_values(
            ["chrom", "beg"]).to_csv(regions, sep="\t", header=False, index=False)
        filters = ReadFilters()
        ours, bcf_baq, bcf_nobaq = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            counts = count_sites(bam, sites, filters, fasta)
            ours.append(time.perf_counter() - t)
            for baq, store in ((True, bcf_baq), (False, bcf_nobaq)):
                t = time.perf_counter()
                subprocess.run(bcftools_command(bam, fasta, regions, baq), check=True,
                               stderr=subprocess.DEVNULL)
                store.append(time.perf_counter() - t)
        fragments = int(counts["depth"].sum())
        print(f"case: {label}; {fragments} fragments counted")
        print(f"plasmatrack count_sites      min {min(ours):.3f} s  (median {np.median(ours):.3f})")
        print(f"bcftools mpileup -R (BAQ)    min {min(bcf_baq):.3f} s  (median {np.median(bcf_baq):.3f})")
        print(f"bcftools mpileup -R -B       min {min(bcf_nobaq):.3f} s  (median {np.median(bcf_nobaq):.3f})")
        print(f"ratio ours / bcftools (BAQ):     {min(ours) / min(bcf_baq):.2f}")
        print(f"ratio ours / bcftools -B:        {min(ours) / min(bcf_nobaq):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
