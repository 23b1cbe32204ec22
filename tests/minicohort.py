"""A tiny, valid cohort written in code: two contigs, one patient with a normal and two plasma
draws, a few hundred read pairs each. For sheet validation, negative tests and quick pipeline
runs; the realistic demo cohort comes from ``plasmatrack simulate``."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

CONTIGS = {"chr17": 30_000, "chr3": 20_000}
GENES = [("chr17", 10_000, 14_000, "ERBB2"), ("chr17", 20_000, 22_000, "TP53"),
         ("chr3", 5_000, 9_000, "PIK3CA")]
PANEL = [("chr17", 10_200, 10_400), ("chr17", 12_000, 12_200), ("chr3", 6_000, 6_200)]
_COMP = bytes.maketrans(b"ACGT", b"TGCA")


def _genome(rng: np.random.Generator) -> dict[str, bytes]:
    return {name: bytes(rng.choice(list(b"ACGT"), size=length).astype(np.uint8))
            for name, length in CONTIGS.items()}


def _write_fastqs(genome, rng, r1_path: Path, r2_path: Path, pairs: int, read_len: int = 75):
    names = list(genome)
    with gzip.open(r1_path, "wt", compresslevel=1) as r1, gzip.open(r2_path, "wt", compresslevel=1) as r2:
        for i in range(pairs):
            chrom = names[i % len(names)]
            seq = genome[chrom]
            frag = int(rng.integers(140, 200))
            start = int(rng.integers(0, len(seq) - frag))
            fragment = seq[start:start + frag]
            left = fragment[:read_len].decode()
            right = fragment[-read_len:].translate(_COMP)[::-1].decode()
            qual = "I" * read_len
            r1.write(f"@p{i}/1\n{left}\n+\n{qual}\n")
            r2.write(f"@p{i}/2\n{right}\n+\n{qual}\n")


def write_mini_cohort(out: Path, pairs: int = 400, seed: int = 7) -> Path:
    """Write the cohort under ``out`` and return ``out`` (config at out/config.yaml)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    genome = _genome(rng)
    with open(out / "genome.fa", "w") as fa:
        for name, seq in genome.items():
            fa.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fa.write(seq[i:i + 60].decode() + "\n")
    (out / "genes.bed").write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in GENES))
    (out / "panel.bed").write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in PANEL))
    (out / "fastq").mkdir(exist_ok=True)
    rows = [("PT1_N", "PT1", "normal", ""), ("PT1_D1", "PT1", "plasma", "-3"),
            ("PT1_D2", "PT1", "plasma", "42")]
    lines = ["sample_id\tpatient_id\tsample_type\ttimepoint_days\tfastq_1\tfastq_2"]
    for sid, pid, stype, days in rows:
        r1, r2 = f"fastq/{sid}_R1.fastq.gz", f"fastq/{sid}_R2.fastq.gz"
        _write_fastqs(genome, rng, out / r1, out / r2, pairs)
        lines.append(f"{sid}\t{pid}\t{stype}\t{days}\t{r1}\t{r2}")
    (out / "samples.tsv").write_text("\n".join(lines) + "\n")
    (out / "clinical.tsv").write_text(
        "patient_id\tttf_months\tttf_event\tos_months\tos_event\tbest_response\ther2_status\n"
        "PT1\t4.5\t1\t12.0\t0\tSD\tamplified\n"
    )
    (out / "config.yaml").write_text(
        "samples: samples.tsv\nclinical: clinical.tsv\nreference:\n  fasta: genome.fa\n"
        "panel: panel.bed\ngenes: genes.bed\nher2_gene: ERBB2\n"
    )
    return out
