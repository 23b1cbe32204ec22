"""Consequences, HGVS and the cohort MAF on the demo-like cohort (issue 24), asserted on the
published tables of the e2e demo run (tests/e2e/conftest.py: demo_run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from plasmatrack.variants.consequence import short_protein

pytestmark = pytest.mark.slow

# The GDC MAF specification's columns 1-45, written out independently of variants.maf.
SPEC = Path(__file__).resolve().parents[1] / "data" / "gdc_maf_columns.txt"
GDC_MAF_COLUMNS = [line.strip() for line in SPEC.read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
CLASSES = {"Frame_Shift_Del", "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins",
           "Missense_Mutation", "Nonsense_Mutation", "Silent", "Splice_Site",
           "Translation_Start_Site", "Nonstop_Mutation", "3'UTR", "5'UTR", "IGR", "Intron",
           "RNA", "Targeted_Region", "Splice_Region"}
SITE = ["chrom", "pos", "ref", "alt"]


def _read(path, **kw):
    return pd.read_csv(path, sep="\t", keep_default_na=False, dtype=str, **kw)


@pytest.fixture(scope="module")
def annotated(demo_run):
    tracked = _read(demo_run.results / "variants" / "tracked_variants.tsv")
    truth = _read(demo_run.truth / "variants.tsv").drop_duplicates(SITE)
    return tracked, truth


def test_tracked_somatic_variants_carry_the_true_consequence_and_protein(annotated):
    tracked, truth = annotated
    somatic = tracked[tracked["category"] == "somatic"].drop_duplicates(SITE)
    merged = somatic.merge(truth[[*SITE, "consequence", "hgvs_p"]], on=SITE,
                           suffixes=("", "_truth"))
    assert len(merged) >= 20  # the patients' own somatic variants (hotspots of others have none)
    assert (merged["consequence"] == merged["consequence_truth"]).all()
    short = ["p." + short_protein(p) if p else "" for p in merged["hgvs_p"]]
    assert short == list(merged["hgvs_p_truth"])
    # the reported name is the hotspot's where there is one, else the model's short form
    off_list = merged[~merged["source"].str.contains("hotspot")]
    assert list("p." + off_list["protein_change"]) == list(off_list["hgvs_p_truth"])


def test_cohort_maf_reads_back_with_the_spec_columns(demo_run, annotated):
    tracked, truth = annotated
    path = demo_run.results / "variants" / "cohort.maf"
    assert path.read_text().startswith("#version 2.4\n")
    maf = _read(path, comment="#")
    assert list(maf.columns[:len(GDC_MAF_COLUMNS)]) == GDC_MAF_COLUMNS
    assert set(maf["Variant_Classification"]) <= CLASSES
    assert set(maf["Variant_Type"]) <= {"SNP", "INS", "DEL"}
    detected = tracked[(tracked["category"] == "somatic") & (tracked["status"] == "detected")
                       & (tracked["sample_type"] == "plasma")]
    assert len(maf) == len(detected) > 0
    # one known variant: a truth SNV detected in a draw, read back field by field
    snv = detected[(detected["ref"].str.len() == 1) & (detected["alt"].str.len() == 1)].merge(
        truth[[*SITE, "hgvs_p", "consequence"]], on=SITE, suffixes=("", "_truth")).iloc[0]
    row = maf[(maf["Tumor_Sample_Barcode"] == snv["sample_id"])
              & (maf["Chromosome"] == snv["chrom"]) & (maf["Start_Position"] == snv["pos"])]
    assert len(row) == 1
    row = row.iloc[0]
    assert (row["End_Position"], row["Reference_Allele"], row["Tumor_Seq_Allele2"]) == \
        (snv["pos"], snv["ref"], snv["alt"])
    assert row["HGVSp_Short"] == snv["hgvs_p_truth"]
    assert row["Hugo_Symbol"] == snv["gene"]
    assert (row["t_ref_count"], row["t_alt_count"]) == (snv["ref_count"], snv["alt_count"])
    expected_class = {"missense": "Missense_Mutation", "synonymous": "Silent",
                      "nonsense": "Nonsense_Mutation", "stop_lost": "Nonstop_Mutation"}
    assert row["Variant_Classification"] == expected_class[snv["consequence_truth"]]
    # an indel's MAF alleles drop the VCF anchor base
    indels = maf[maf["Variant_Type"] != "SNP"]
    assert ((indels["Reference_Allele"] == "-") | (indels["Tumor_Seq_Allele2"] == "-")).all()


def test_vcf_info_and_clone_labels_use_protein_changes(demo_run, annotated):
    tracked, _ = annotated
    somatic = tracked[tracked["category"] == "somatic"].drop_duplicates(SITE)
    patient = somatic["patient_id"].iloc[0]
    with pysam.VariantFile(str(demo_run.results / "variants" / f"{patient}.vcf.gz")) as vcf:
        info = {(r.contig, str(r.pos), r.ref, r.alts[0]): dict(r.info) for r in vcf.fetch()}
    for r in somatic[somatic["patient_id"] == patient].itertuples():
        entry = info[(r.chrom, r.pos, r.ref, r.alt)]
        assert entry.get("CONSEQUENCE") == r.consequence
        assert entry.get("HGVSP", "").replace("%3D", "=") == r.hgvs_p
    clusters = _read(demo_run.results / "clonal" / "variant_clusters.tsv")
    labels = [x for x in clusters["cluster_label"] if x]
    assert labels
    # a label names variants by protein change, never by position, when a GFF3 is given
    assert not any(":" in x for x in labels), labels
