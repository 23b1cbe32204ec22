"""The cohort MAF: somatic variants detected in plasma, in the GDC MAF layout cBioPortal imports.

One row per somatic variant and plasma draw it is detected in (the draw is the
``Tumor_Sample_Barcode``; the patient's white-cell normal, when there is one, the
``Matched_Norm_Sample_Barcode`` with its counts). Alleles follow the MAF convention: 1-based
positions, no anchor base, ``-`` for the empty allele of an indel (an insertion spans the two
bases it sits between)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..config import schema_default
from .consequence import short_protein

MAF_VERSION = "2.4"  # the GDC MAF version whose columns these are
# The GDC MAF specification's columns, in its order (the first 34 are the TCGA MAF columns,
# then the annotation and count columns cBioPortal reads).
MAF_COLUMNS = [
    "Hugo_Symbol", "Entrez_Gene_Id", "Center", "NCBI_Build", "Chromosome", "Start_Position",
    "End_Position", "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele",
    "Tumor_Seq_Allele1", "Tumor_Seq_Allele2", "dbSNP_RS", "dbSNP_Val_Status",
    "Tumor_Sample_Barcode", "Matched_Norm_Sample_Barcode", "Match_Norm_Seq_Allele1",
    "Match_Norm_Seq_Allele2", "Tumor_Validation_Allele1", "Tumor_Validation_Allele2",
    "Match_Norm_Validation_Allele1", "Match_Norm_Validation_Allele2", "Verification_Status",
    "Validation_Status", "Mutation_Status", "Sequencing_Phase", "Sequence_Source",
    "Validation_Method", "Score", "BAM_File", "Sequencer", "Tumor_Sample_UUID",
    "Matched_Norm_Sample_UUID", "HGVSc", "HGVSp", "HGVSp_Short", "Transcript_ID", "Exon_Number",
    "t_depth", "t_ref_count", "t_alt_count", "n_depth", "n_ref_count", "n_alt_count",
    # plasmatrack's own columns (MAF readers keep extra columns)
    "Consequence", "patient_id", "timepoint_days", "t_vaf", "category",
]
# plasmatrack consequence (consequence.py) -> MAF Variant_Classification; indels by type below.
CLASSIFICATION = {
    "missense": "Missense_Mutation", "nonsense": "Nonsense_Mutation", "synonymous": "Silent",
    "splice_site": "Splice_Site", "splice_region": "Splice_Region", "utr_5": "5'UTR",
    "utr_3": "3'UTR", "intronic": "Intron", "intergenic": "IGR", "non_coding": "RNA",
    "stop_lost": "Nonstop_Mutation", "start_lost": "Translation_Start_Site",
    "coding_sequence": "Targeted_Region", "": "Targeted_Region",
}
_INDEL_CLASSES = {("frameshift", "DEL"): "Frame_Shift_Del", ("frameshift", "INS"): "Frame_Shift_Ins",
                  ("inframe_indel", "DEL"): "In_Frame_Del", ("inframe_indel", "INS"): "In_Frame_Ins"}


@dataclass(frozen=True)
class MafSettings:
    """Constant MAF fields (config section ``variants.maf``)."""

    center: str = schema_default("variants.maf.center")
    ncbi_build: str = schema_default("variants.maf.ncbi_build")

    @classmethod
    def from_config(cls, section: dict | None) -> "MafSettings":
        section = section or {}
        return cls(center=str(section.get("center", cls.center)),
                   ncbi_build=str(section.get("ncbi_build", cls.ncbi_build)))


def maf_alleles(pos: int, ref: str, alt: str) -> tuple[str, int, int, str, str]:
    """(Variant_Type, Start_Position, End_Position, Reference_Allele, Tumor_Seq_Allele2) of a
    VCF-style SNV or indel."""
    if len(ref) == 1 and len(alt) == 1:
        return "SNP", pos, pos, ref, alt
    if len(ref) > len(alt):
        deleted = ref[1:]
        return "DEL", pos + 1, pos + len(deleted), deleted, "-"
    return "INS", pos, pos + 1, "-", alt[1:]


def classification(consequence: str, variant_type: str) -> str:
    """The MAF Variant_Classification of a consequence."""
    return _INDEL_CLASSES.get((consequence, variant_type)) or CLASSIFICATION.get(
        consequence, "Targeted_Region")


def _normal_counts(tracked: pd.DataFrame) -> pd.DataFrame:
    normal = tracked[tracked["sample_type"] == "normal"]
    return normal.drop_duplicates(["patient_id", "site_id"]).set_index(
        ["patient_id", "site_id"])[["sample_id", "depth", "ref_count", "alt_count"]]


def cohort_maf(tracked: pd.DataFrame, settings: MafSettings) -> pd.DataFrame:
    """The MAF rows (``MAF_COLUMNS``) of a tracked-variants table (``TRACKED_VARIANTS``)."""
    tracked = tracked.assign(site_id=tracked["chrom"].astype(str) + ":" + tracked["pos"].astype(
        str) + ":" + tracked["ref"] + ":" + tracked["alt"])
    normals = _normal_counts(tracked)
    calls = tracked[(tracked["sample_type"] == "plasma") & (tracked["category"] == "somatic")
                    & (tracked["status"] == "detected")]
    rows = [_maf_row(r, normals, settings) for r in calls.to_dict("records")]
    return pd.DataFrame(rows, columns=MAF_COLUMNS)


def _text(row: dict, col: str) -> str:
    value = row.get(col, "")
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _maf_row(r: dict, normals: pd.DataFrame, settings: MafSettings) -> dict:
    vtype, start, end, ref, alt = maf_alleles(int(r["pos"]), r["ref"], r["alt"])
    key = (r["patient_id"], r["site_id"])
    normal = normals.loc[key] if key in normals.index else None
    hgvs_p = _text(r, "hgvs_p")
    consequence = _text(r, "consequence")
    return {
        "Hugo_Symbol": _text(r, "gene").split(",")[0] or "Unknown", "Entrez_Gene_Id": 0,
        "Center": settings.center, "NCBI_Build": settings.ncbi_build, "Chromosome": r["chrom"],
        "Start_Position": start, "End_Position": end, "Strand": "+",
        "Variant_Classification": classification(consequence, vtype), "Variant_Type": vtype,
        "Reference_Allele": ref, "Tumor_Seq_Allele1": ref, "Tumor_Seq_Allele2": alt,
        "Tumor_Sample_Barcode": r["sample_id"],
        "Matched_Norm_Sample_Barcode": "" if normal is None else normal["sample_id"],
        "Match_Norm_Seq_Allele1": "" if normal is None else ref,
        "Match_Norm_Seq_Allele2": "" if normal is None else ref,
        "Mutation_Status": "Somatic", "Sequence_Source": "Targeted sequencing",
        "HGVSc": _text(r, "hgvs_c"), "HGVSp": hgvs_p,
        "HGVSp_Short": f"p.{short_protein(hgvs_p)}" if hgvs_p else "",
        "Transcript_ID": _text(r, "transcript"), "Exon_Number": _text(r, "exon"),
        "t_depth": int(r["depth"]), "t_ref_count": int(r["ref_count"]),
        "t_alt_count": int(r["alt_count"]),
        "n_depth": "" if normal is None else int(normal["depth"]),
        "n_ref_count": "" if normal is None else int(normal["ref_count"]),
        "n_alt_count": "" if normal is None else int(normal["alt_count"]),
        "Consequence": consequence, "patient_id": r["patient_id"],
        "timepoint_days": _text(r, "timepoint_days"), "t_vaf": r["vaf"],
        "category": r["category"],
    }
