"""The cohort MAF (variants/maf.py, issue 24): alleles, classes, rows, and reading it back."""

from pathlib import Path

import pandas as pd

from plasmatrack.io import read_tsv, write_tsv
from plasmatrack.variants.maf import (MAF_COLUMNS, MafSettings, classification, cohort_maf,
                                      maf_alleles)
from plasmatrack.variants.pipeline import write_cohort_maf

SPEC = Path(__file__).resolve().parents[1] / "data" / "gdc_maf_columns.txt"


def test_columns_follow_the_gdc_specification():
    spec = [x.strip() for x in SPEC.read_text().splitlines() if x.strip() and x[0] != "#"]
    assert len(spec) == 45 and MAF_COLUMNS[:45] == spec


def test_maf_alleles_drop_the_anchor_base():
    assert maf_alleles(100, "A", "G") == ("SNP", 100, 100, "A", "G")
    assert maf_alleles(100, "ACGT", "A") == ("DEL", 101, 103, "CGT", "-")
    assert maf_alleles(100, "A", "ATT") == ("INS", 100, 101, "-", "TT")


def test_classification_by_consequence_and_type():
    assert classification("frameshift", "DEL") == "Frame_Shift_Del"
    assert classification("inframe_indel", "INS") == "In_Frame_Ins"
    assert classification("synonymous", "SNP") == "Silent"
    assert classification("utr_3", "SNP") == "3'UTR"
    assert classification("", "SNP") == "Targeted_Region"  # no transcript model


def _tracked():
    base = {"patient_id": "P1", "chrom": "chr17", "gene": "ERBB2", "exon": "20",
            "category": "somatic", "consequence": "missense", "transcript": "ENST1",
            "hgvs_c": "c.2264T>C", "hgvs_p": "p.Leu755Ser", "timepoint_days": 0}
    rows = [
        {"sample_id": "P1_N", "sample_type": "normal", "status": "not_detected", "depth": 300,
         "ref_count": 299, "alt_count": 1, "vaf": 0.003},
        {"sample_id": "P1_D1", "sample_type": "plasma", "status": "detected", "depth": 500,
         "ref_count": 480, "alt_count": 20, "vaf": 0.04},
        {"sample_id": "P1_D2", "sample_type": "plasma", "status": "not_detected", "depth": 400,
         "ref_count": 399, "alt_count": 1, "vaf": 0.0025, "timepoint_days": 90},
    ]
    snv = [{**base, "pos": 1000, "ref": "T", "alt": "C", **r} for r in rows]
    germline = {**snv[1], "pos": 2000, "category": "germline"}
    return pd.DataFrame(snv + [germline])


def test_rows_are_detected_somatic_plasma_calls_with_the_normal():
    maf = cohort_maf(_tracked(), MafSettings(center="lab", ncbi_build="GRCh37"))
    assert len(maf) == 1
    row = maf.iloc[0]
    assert (row["Tumor_Sample_Barcode"], row["Matched_Norm_Sample_Barcode"]) == ("P1_D1", "P1_N")
    assert (row["t_ref_count"], row["t_alt_count"], row["n_depth"], row["n_alt_count"]) == \
        (480, 20, 300, 1)
    assert (row["HGVSp"], row["HGVSp_Short"], row["Variant_Classification"]) == \
        ("p.Leu755Ser", "p.L755S", "Missense_Mutation")
    assert (row["Center"], row["NCBI_Build"], row["Hugo_Symbol"]) == ("lab", "GRCh37", "ERBB2")


def test_written_maf_reads_back(tmp_path):
    tracked = tmp_path / "tracked.tsv"
    write_tsv(_tracked(), tracked)
    out = tmp_path / "cohort.maf"
    write_cohort_maf(str(tracked), str(out), MafSettings())
    assert out.read_text().splitlines()[0] == "#version 2.4"
    back = read_tsv(out, comment="#", dtype=str, keep_default_na=False)
    assert back.loc[0, "Start_Position"] == "1000" and back.loc[0, "timepoint_days"] == "0"
    assert back.loc[0, "Transcript_ID"] == "ENST1"
