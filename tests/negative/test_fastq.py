"""Bad reads: missing, empty, truncated gzip, mismatched R1/R2 counts or order."""

from __future__ import annotations

import gzip

import pytest

from plasmatrack.errors import InputError
from plasmatrack.fastqcheck import check_pair, count_reads


def _write(path, reads, names=None):
    with gzip.open(path, "wt") as handle:
        for i in range(reads):
            name = names[i] if names else f"r{i}"
            handle.write(f"@{name}\nACGT\n+\nIIII\n")
    return path


def test_counts(tmp_path):
    r1 = _write(tmp_path / "a_R1.fq.gz", 5)
    r2 = _write(tmp_path / "a_R2.fq.gz", 5)
    assert check_pair(r1, r2).reads_1 == 5


def test_missing(tmp_path):
    with pytest.raises(InputError, match="nope.fq.gz: FASTQ file not found"):
        count_reads(tmp_path / "nope.fq.gz")


def test_empty(tmp_path):
    r1 = _write(tmp_path / "a_R1.fq.gz", 0)
    r2 = _write(tmp_path / "a_R2.fq.gz", 0)
    with pytest.raises(InputError, match="a_R1.fq.gz: the FASTQ has no reads"):
        check_pair(r1, r2)


def test_truncated_gzip(tmp_path):
    r1 = _write(tmp_path / "a_R1.fq.gz", 2000)
    data = r1.read_bytes()
    r1.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="a_R1.fq.gz: truncated or corrupt gzip"):
        count_reads(r1)


def test_truncated_plain(tmp_path):
    path = tmp_path / "a.fq"
    path.write_text("@r1\nACGT\n+\nIIII\n@r2\nACGT\n")
    with pytest.raises(InputError, match="6 lines is not a multiple of 4"):
        count_reads(path)


def test_not_fastq(tmp_path):
    path = tmp_path / "a.fq"
    path.write_text(">r1\nACGT\n")
    with pytest.raises(InputError, match="not a FASTQ file"):
        count_reads(path)


def test_mismatched_counts(tmp_path):
    r1 = _write(tmp_path / "a_R1.fq.gz", 5)
    r2 = _write(tmp_path / "a_R2.fq.gz", 4)
    with pytest.raises(InputError, match="has 5 reads but .*a_R2.fq.gz has 4: the mates do not pair up"):
        check_pair(r1, r2)


def test_mates_out_of_order(tmp_path):
    r1 = _write(tmp_path / "a_R1.fq.gz", 3, names=["x/1", "y/1", "z/1"])
    r2 = _write(tmp_path / "a_R2.fq.gz", 3, names=["x/2", "z/2", "y/2"])
    with pytest.raises(InputError, match="read 2 is named 'y' in one and 'z' in the other"):
        check_pair(r1, r2)
