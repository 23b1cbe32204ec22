"""Bad input to the residual-disease stage: a clear error naming the file, row and field, no
output written, the input untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plasmatrack.variants import synthetic as syn


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    root = tmp_path_factory.mktemp("mrd_bam")
    genome = syn.random_genome({"chr1": 6000}, seed=2)
    ref = genome["chr1"][2999]
    alt = "A" if ref != "A" else "C"
    path = syn.write_snv_panel_bam(root / "D1.bam", genome, "chr1", [(3000, ref, alt, 0.01)],
                                   200, seed=2)
    return path, ref, alt


def _run(*args):
    return subprocess.run([sys.executable, "-m", "plasmatrack", "mrd", *map(str, args)],
                          capture_output=True, text=True)


def test_bad_variant_rows_are_named(bam, tmp_path):
    path, ref, alt = bam
    variants = tmp_path / "tumour.tsv"
    text = f"chrom\tpos\tref\talt\tccf\nchr1\t3000\t{ref}\t{alt}\t2\nchr1\tnear\t{ref}\t{alt}\t\n"
    variants.write_text(text)
    proc = _run("--bams", path, "--variants", variants, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert f"{variants}, row 3, column 'pos'" in proc.stderr
    assert variants.read_text() == text and not (tmp_path / "out").exists()


def test_ccf_out_of_range_is_named(bam, tmp_path):
    path, ref, alt = bam
    variants = tmp_path / "tumour.tsv"
    variants.write_text(f"chrom\tpos\tref\talt\tccf\nchr1\t3000\t{ref}\t{alt}\t2\n")
    proc = _run("--bams", path, "--variants", variants, "--out", tmp_path / "out")
    assert proc.returncode == 1 and "row 2, column 'ccf'" in proc.stderr


def test_unindexed_bam_and_bad_sample_name(bam, tmp_path):
    path, ref, alt = bam
    variants = tmp_path / "tumour.tsv"
    variants.write_text(f"chrom\tpos\tref\talt\nchr1\t3000\t{ref}\t{alt}\n")
    bare = tmp_path / "D2.bam"
    bare.write_bytes(Path(path).read_bytes())
    proc = _run("--bams", bare, "--variants", variants, "--out", tmp_path / "out")
    assert proc.returncode == 1 and f"{bare}: no index" in proc.stderr
    odd = tmp_path / "bad name!.bam"
    odd.write_bytes(Path(path).read_bytes())
    proc = _run("--bams", odd, "--variants", variants, "--out", tmp_path / "out")
    assert proc.returncode == 1 and "not a usable sample ID" in proc.stderr


def test_patient_without_variants(bam, tmp_path):
    path, ref, alt = bam
    variants = tmp_path / "tumour.tsv"
    variants.write_text(f"patient_id\tchrom\tpos\tref\talt\nP9\tchr1\t3000\t{ref}\t{alt}\n")
    proc = _run("--bams", path, "--variants", variants, "--patient", "P1", "--out",
                tmp_path / "out")
    assert proc.returncode == 1 and "no variant of patient 'P1'" in proc.stderr
