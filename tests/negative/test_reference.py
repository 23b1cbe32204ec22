"""Reference, BED, config and user-BAM checks: clear errors naming file, row and field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest

from plasmatrack.bamcheck import check_bam
from plasmatrack.config import load_config
from plasmatrack.errors import InputError
from plasmatrack.reference import contig_lengths, prepare_beds


def _prepare(cohort: Path, genes: Path | None = None, panel: Path | None = None, her2="ERBB2"):
    return prepare_beds(cohort / "genome.fa", genes or cohort / "genes.bed", her2,
                        panel or cohort / "panel.bed", cohort / "out_genes.bed",
                        cohort / "out_panel.bed")


def test_contig_lengths(mini_cohort):
    assert contig_lengths(mini_cohort / "genome.fa") == {"chr17": 30_000, "chr3": 20_000}


def test_panel_contig_not_in_reference(mini_cohort):
    bed = mini_cohort / "bad_panel.bed"
    bed.write_text("chr17\t100\t200\n17\t300\t400\n")
    with pytest.raises(InputError) as info:
        _prepare(mini_cohort, panel=bed)
    assert (f"{bed}, row 2, column 'chrom': contig '17' is not in the reference (the reference "
            "names it 'chr17': chr-prefix mismatch)") in str(info.value)


def test_interval_past_contig_end(mini_cohort):
    bed = mini_cohort / "bad_panel.bed"
    bed.write_text("chr3\t19900\t20100\n")
    with pytest.raises(InputError) as info:
        _prepare(mini_cohort, panel=bed)
    assert f"{bed}, row 1, column 'end': end 20100 is past the end of chr3 (20000 bp)" in str(info.value)


def test_unsorted_overlapping_panel_sorted_and_merged(mini_cohort):
    bed = mini_cohort / "messy_panel.bed"
    bed.write_text("chr3\t500\t700\nchr17\t300\t400\nchr17\t100\t350\n")
    warnings = _prepare(mini_cohort, panel=bed)
    assert warnings == [f"{bed}: 1 overlapping target(s) merged"]
    lines = (mini_cohort / "out_panel.bed").read_text().splitlines()
    assert [tuple(line.split("\t")[:3]) for line in lines] == [
        ("chr17", "100", "400"), ("chr3", "500", "700")]


def test_her2_gene_missing(mini_cohort):
    with pytest.raises(InputError) as info:
        _prepare(mini_cohort, her2="HER2")
    assert "the HER2 gene 'HER2' (config key her2_gene) is not in the genes BED" in str(info.value)


def test_config_schema_error_names_key(mini_cohort):
    cfg = mini_cohort / "bad.yaml"
    cfg.write_text("samples: samples.tsv\nclinical: clinical.tsv\nreference: {fasta: genome.fa}\n"
                   "genes: genes.bed\nalign: {threads: many}\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert f"{cfg}: key 'align.threads': 'many' is not of type 'integer'" in str(info.value)


def test_config_defaults_and_paths(mini_cohort):
    config = load_config(mini_cohort / "config.yaml")
    assert config["samples"] == str(mini_cohort / "samples.tsv")
    assert config["reference"]["fasta"] == str(mini_cohort / "genome.fa")
    assert config["her2_gene"] == "ERBB2"
    assert config["qc"]["max_duplicate_rate"] == 0.6


def _tiny_bam(path: Path, contigs: list[tuple[str, int]], sort_order: str = "coordinate"):
    header = {"HD": {"VN": "1.6", "SO": sort_order},
              "SQ": [{"SN": name, "LN": length} for name, length in contigs]}
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass


def _fai(cohort: Path) -> Path:
    subprocess.run(["samtools", "faidx", str(cohort / "genome.fa"), "-o",
                    str(cohort / "ref.fai")], check=True)
    return cohort / "ref.fai"


def test_bam_other_reference_names(mini_cohort):
    bam = mini_cohort / "other.bam"
    _tiny_bam(bam, [("17", 30_000), ("3", 20_000)])
    with pytest.raises(InputError) as info:
        check_bam(bam, _fai(mini_cohort))
    assert f"{bam}: none of its contigs (e.g. '17') is in the reference" in str(info.value)


def test_bam_other_reference_lengths(mini_cohort):
    bam = mini_cohort / "other.bam"
    _tiny_bam(bam, [("chr17", 81_195_210), ("chr3", 20_000)])
    with pytest.raises(InputError) as info:
        check_bam(bam, _fai(mini_cohort))
    assert (f"{bam}: contig 'chr17' is 81195210 bp in the BAM but 30000 bp in the reference"
            in str(info.value))


def test_bam_unsorted(mini_cohort):
    bam = mini_cohort / "unsorted.bam"
    _tiny_bam(bam, [("chr17", 30_000), ("chr3", 20_000)], sort_order="queryname")
    with pytest.raises(InputError) as info:
        check_bam(bam, _fai(mini_cohort))
    assert "header says sort order 'queryname'; the BAM must be coordinate-sorted" in str(info.value)


def test_bam_not_a_bam(mini_cohort):
    bam = mini_cohort / "junk.bam"
    bam.write_text("not a bam")
    with pytest.raises(InputError) as info:
        check_bam(bam, _fai(mini_cohort))
    assert f"{bam}: not a readable BAM file" in str(info.value)
