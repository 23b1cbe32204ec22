"""QC on real public data (../shared/data): a real cfDNA BAM and samtools' ex1 read pairs
realigned with bwa mem -Y. Figures and tolerances are those of the issue and the data README."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pysam
import pytest

from plasmatrack.qc import sample_qc

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.real


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data {path} is absent (see ../shared/data/README.md)")
    return path


def test_cfdna_bam_fragment_mode_and_median():
    bam = _need(DATA / "cfdna_bam" / "ex.plasma.bam")
    row, hist = sample_qc(bam, sample_id="ex_plasma")
    # The acceptance figures: mono-nucleosome mode, median 166 +/- 2 bp.
    assert 160 <= row["fragment_mode"] <= 170
    assert abs(row["fragment_median"] - 166) <= 2
    # Read counts are samtools flagstat's (5,760 primary, 5,758 mapped, 4,768 properly paired).
    assert (row["total_reads"], row["mapped_reads"], row["properly_paired_reads"]) == (
        5760, 5758, 4768)
    assert row["secondary_reads"] == 13 and row["duplicate_reads"] == 0
    # Independent recount with plain pysam and the documented filters gives the same histogram.
    lengths = []
    with pysam.AlignmentFile(str(bam)) as handle:
        for read in handle:
            if (read.is_read1 and read.is_proper_pair and not read.is_secondary
                    and not read.is_supplementary and not read.is_duplicate
                    and read.mapping_quality >= 30 and abs(read.template_length) <= 1000):
                lengths.append(abs(read.template_length))
    assert row["fragments"] == len(lengths) == 2043
    assert np.array_equal(hist, np.bincount(lengths, minlength=1001))
    assert row["fragment_median"] == np.median(lengths)
    # cfDNA: short fragments are the minority; mono-nucleosome fragments dominate.
    assert 0.1 < row["short_fraction"] < 0.4
    assert row["qc_pass"], row["qc_reason"]


@pytest.fixture(scope="module")
def ex1_bam(tmp_path_factory) -> Path:
    """samtools' ex1 read pairs realigned: bwa index in a tmp folder, bwa mem -Y, sort, index."""
    folder = _need(DATA / "samtools_ex1")
    for tool in ("bwa", "samtools"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    tmp = tmp_path_factory.mktemp("ex1")
    fasta = tmp / "ex1.fa"
    shutil.copy(folder / "ex1.fa", fasta)
    subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
    # The SAM has no header: pair the records by name, keep complete pairs only.
    reads: dict[str, dict[int, tuple[str, str]]] = {}
    with gzip.open(folder / "ex1.sam.gz", "rt") as handle:
        for line in handle:
            f = line.rstrip("\n").split("\t")
            flag, seq, qual = int(f[1]), f[9], f[10]
            if flag & 0x900:
                continue
            if flag & 0x10:
                seq = seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
                qual = qual[::-1]
            reads.setdefault(f[0], {})[1 if flag & 0x40 else 2] = (seq, qual)
    pairs = sorted(name for name, mates in reads.items() if len(mates) == 2)
    for mate in (1, 2):
        with open(tmp / f"r{mate}.fq", "w") as out:
            for name in pairs:
                seq, qual = reads[name][mate]
                out.write(f"@{name}\n{seq}\n+\n{qual}\n")
    bam = tmp / "ex1.bam"
    sam = subprocess.run(["bwa", "mem", "-Y", "-R", r"@RG\tID:ex1\tSM:ex1", str(fasta),
                          str(tmp / "r1.fq"), str(tmp / "r2.fq")],
                         check=True, capture_output=True).stdout
    subprocess.run(["samtools", "sort", "-o", str(bam), "-"], input=sam, check=True,
                   capture_output=True)
    subprocess.run(["samtools", "index", str(bam)], check=True, capture_output=True)
    assert len(pairs) == 1608  # the data README's complete pairs
    return bam


def test_ex1_realigned_mapped_and_properly_paired(ex1_bam):
    row, _ = sample_qc(ex1_bam, sample_id="ex1", sample_type="normal")
    # Data README: the 1,608 complete pairs give 98.5% mapped and 3,144 properly paired.
    assert row["total_reads"] == 3216
    assert row["mapped_fraction"] == pytest.approx(0.985, rel=0.01)
    assert row["properly_paired_reads"] == pytest.approx(3144, rel=0.01)
    # And samtools flagstat on the same BAM agrees exactly.
    text = pysam.flagstat(str(ex1_bam))
    counts = {line.split(" + ")[1].split(" ", 1)[1].split(" (")[0]: int(line.split(" + ")[0])
              for line in text.splitlines()}
    assert row["mapped_reads"] == counts["primary mapped"]
    assert row["properly_paired_reads"] == counts["properly paired"]
