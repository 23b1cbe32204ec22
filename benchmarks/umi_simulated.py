#!/usr/bin/env python
"""UMI grouping and consensus against the truth of ``plasmatrack simulate --umi`` (issue 20),
over several seeds: the second generative regime of the umi stage (the first is the generator in
tests/unit/test_umi_consensus.py).

Per seed: ``plasmatrack simulate --seed S --patients 1 --draws 1 --read-pairs N --umi MODE``,
each sample aligned as the pipeline's align rule does (``bwa mem -Y | samtools sort``), then
``plasmatrack consensus --reference --grouped-bam``; compared with ``truth/umi/``:
- molecules (and duplex molecules, strand families) against the truth's molecules with >= 1 read
  pair;
- read-to-molecule assignment: adjusted Rand index of the grouped reads' ``MI`` (without
  ``/A``, ``/B``) against the truth molecule, and of the full ``MI`` against the truth strand
  family; reads whose UMI carries a sequencing error are counted apart (how many, and whether
  they joined their true family).

    .venv/bin/python benchmarks/umi_simulated.py [--seeds 11 12 13] [--read-pairs 40000] \\
        [--mode duplex] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

BIN = Path(sys.executable).parent


def adjusted_rand_index(truth: np.ndarray, found: np.ndarray) -> float:
    """ARI of two labelings of the same items (Hubert and Arabie)."""
    _, t = np.unique(truth, return_inverse=True)
    _, f = np.unique(found, return_inverse=True)
    pairs = np.unique(t.astype(np.int64) * (f.max() + 1) + f, return_counts=True)[1]
    comb = lambda n: n * (n - 1) / 2.0  # noqa: E731
    index = comb(pairs).sum()
    a, b = comb(np.bincount(t)).sum(), comb(np.bincount(f)).sum()
    expected = a * b / comb(len(t))
    top = (a + b) / 2.0
    return float((index - expected) / (top - expected)) if top != expected else 1.0


def _run(cmd: list[str], **kwargs) -> None:
    subprocess.run(cmd, check=True, capture_output=True, **kwargs)


def align(cohort: Path, sample: str, out: Path) -> Path:
    """The align rule's bwa mem -Y | samtools sort (no duplicate marking: grouping ignores it)."""
    ref = out / "genome.fa"
    if not (out / "genome.fa.bwt").exists():
        _run(["cp", str(cohort / "reference" / "genome.fa"), str(ref)])
        _run(["bwa", "index", str(ref)])
        _run(["samtools", "faidx", str(ref)])
    bam = out / f"{sample}.bam"
    fq = [str(cohort / "fastq" / f"{sample}_R{i}.fastq.gz") for i in (1, 2)]
    bwa = subprocess.Popen(["bwa", "mem", "-Y", "-t", "2", str(ref), *fq], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    _run(["samtools", "sort", "-o", str(bam), "-"], stdin=bwa.stdout)
    bwa.wait()
    _run(["samtools", "index", str(bam)])
    return bam


def grouped_labels(bam: Path) -> pd.DataFrame:
    """read_name (without the UMI field) -> MI of read 1 of every grouped pair."""
    rows = []
    with pysam.AlignmentFile(str(bam)) as handle:
        for read in handle.fetch(until_eof=True):
            if read.is_read1 and read.has_tag("MI") and not read.is_secondary \
                    and not read.is_supplementary:
                rows.append((read.query_name.rsplit(":", 1)[0], read.get_tag("MI")))
    return pd.DataFrame(rows, columns=["read_name", "mi"])


def score_sample(cohort: Path, sample: str, out: Path, mode: str) -> dict:
    bam = align(cohort, sample, out)
    _run([str(BIN / "plasmatrack"), "consensus", "--bam", str(bam), "--out", str(out),
          "--sample-id", sample, "--umi-mode", mode, "--reference", str(out / "genome.fa"),
          "--grouped-bam"])
    metrics = pd.read_csv(out / f"{sample}.umi.tsv", sep="\t").iloc[0]
    truth = pd.read_csv(cohort / "truth" / "umi_samples.tsv", sep="\t").set_index("sample_id")
    reads = pd.read_csv(cohort / "truth" / "umi" / f"{sample}.reads.tsv.gz", sep="\t",
                        keep_default_na=False)
    grouped = next(p for p in out.glob(f"{sample}*grouped*.bam"))
    both = reads.merge(grouped_labels(grouped), on="read_name")
    family = both["molecule"].astype(str) + both["strand"]
    mol_found = both["mi"].str.replace(r"/[AB]$", "", regex=True)
    err = both["umi_errors"] > 0
    # a read with a UMI error joined its family when its MI is that of its family's clean reads
    clean_mi = both[~err].groupby(family[~err])["mi"].agg(lambda s: s.mode().iloc[0])
    joined = (both.loc[err, "mi"].to_numpy() == clean_mi.reindex(family[err]).to_numpy())
    t = truth.loc[sample]
    return dict(sample=sample, molecules=int(metrics["molecules"]),
                truth_molecules=int(t["molecules"]),
                duplex=int(metrics["duplex_molecules"]), truth_duplex=int(t["duplex_molecules"]),
                families=int(metrics["families"]), truth_families=int(t["strand_families"]),
                reads_scored=len(both), ari_molecule=adjusted_rand_index(both["molecule"],
                                                                         mol_found),
                ari_family=adjusted_rand_index(family, both["mi"]),
                umi_error_reads=int(err.sum()), umi_error_joined=int(joined.sum()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    ap.add_argument("--read-pairs", type=int, default=40_000)
    ap.add_argument("--mode", choices=("single", "duplex"), default="duplex")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="umi_simulated."))
    rows = []
    for seed in args.seeds:
        cohort = work / f"seed{seed}" / "cohort"
        _run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), "--seed", str(seed),
              "--patients", "1", "--draws", "1", "--read-pairs", str(args.read_pairs),
              "--umi", args.mode])
        out = work / f"seed{seed}" / "out"
        out.mkdir(parents=True, exist_ok=True)
        for sample in ("P01_N", "P01_D1"):
            rows.append(dict(seed=seed, **score_sample(cohort, sample, out, args.mode)))
    table = pd.DataFrame(rows)
    table["molecules_vs_truth"] = table["molecules"] / table["truth_molecules"] - 1
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
