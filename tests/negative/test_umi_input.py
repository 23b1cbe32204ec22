"""Bad UMI input through the CLI: a BAM whose reads carry no UMI, an unsorted BAM, a read
structure that does not parse, FASTQ reads shorter than their read structure. Each fails with
exit status 1, the file named, the count given, nothing written."""

from __future__ import annotations

import gzip

import pysam

from plasmatrack.cli import main


def test_bam_without_umis_names_the_file_and_counts(shared_data, tmp_path, capsys):
    bam = shared_data / "cfdna_bam" / "ex.plasma.bam"
    assert main(["consensus", "--bam", str(bam), "--out", str(tmp_path / "out"),
                 "--umi-mode", "single"]) == 1
    err = capsys.readouterr().err
    # 5,760 primary reads, 5,758 mapped (data README); pairs with both mates mapped are checked.
    assert f"{bam}: " in err and "reads without a UMI" in err and "of 5,760 reads" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unsorted_bam(tmp_path, capsys):
    header = {"HD": {"VN": "1.6", "SO": "queryname"}, "SQ": [{"SN": "c", "LN": 1000}]}
    bam = tmp_path / "q.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    assert main(["consensus", "--bam", str(bam), "--out", str(tmp_path / "o")]) == 1
    assert "must be coordinate-sorted (header SO:queryname)" in capsys.readouterr().err


def _fastq(path, seqs):
    with gzip.open(path, "wt") as handle:
        for i, seq in enumerate(seqs):
            handle.write(f"@r{i} 1:N:0:1\n{seq}\n+\n{'I' * len(seq)}\n")
    return path


def test_read_structures(tmp_path, capsys):
    r1 = _fastq(tmp_path / "s_R1.fq.gz", ["ACGTACGTAAGGCC", "ACG"])
    r2 = _fastq(tmp_path / "s_R2.fq.gz", ["TTGGCCAATT", "TTGGCCAATT"])
    assert main(["consensus", "extract", "--r1", str(r1), "--r2", str(r2), "--out",
                 str(tmp_path / "o"), "--read-structures", "8X+T", "+T"]) == 1
    assert "'8X+T' is not a read structure" in capsys.readouterr().err
    assert main(["consensus", "extract", "--r1", str(r1), "--r2", str(r2), "--out",
                 str(tmp_path / "o"), "--read-structures", "8M2S+T", "+T"]) == 1
    err = capsys.readouterr().err
    assert f"{r1}, line 5: read of 3 bases is shorter than the read structure 8M2S+T" in err
    assert not list((tmp_path / "o").glob("*.fastq.gz"))


def test_extract_moves_the_umi_into_the_name(tmp_path):
    r1 = _fastq(tmp_path / "s_R1.fq.gz", ["ACGTACGTAAGGCC"])
    r2 = _fastq(tmp_path / "s_R2.fq.gz", ["TTGGCCAATT"])
    assert main(["consensus", "extract", "--r1", str(r1), "--r2", str(r2), "--out",
                 str(tmp_path / "o"), "--read-structures", "8M2S+T", "3M+T"]) == 0
    with gzip.open(tmp_path / "o" / "s_R1.fastq.gz", "rt") as handle:
        assert handle.read().splitlines() == ["@r0:ACGTACGT+TTG 1:N:0:1", "GGCC", "+", "IIII"]
    with gzip.open(tmp_path / "o" / "s_R2.fastq.gz", "rt") as handle:
        assert handle.read().splitlines()[:2] == ["@r0:ACGTACGT+TTG 1:N:0:1", "GCCAATT"]
