"""Per-patient VCF of tracked variants with per-sample FORMAT fields (bgzipped + tabix index).

One record per tracked variant (1-based POS, VCF alleles), one sample column per sample of the
patient (normal included). FILTER is PASS for somatic variants, else the category and reasons
(germline, chip, artifact, blacklisted, strand_bias). GT is a presence call, not a genotype of
the tumour: 0/1 detected, 1/1 detected at VAF >= 0.9, 0/0 not detected, ./. undetermined."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pandas as pd

FILTERS = {
    "germline": "Germline variant (VAF near 0.5 or 1 in the matched normal, or in plasma "
                "without one)",
    "chip": "Clonal haematopoiesis: detected in the white-cell normal at low VAF",
    "artifact": "Artifact: blacklisted site or strand-biased support",
    "blacklisted": "Site noisy in control samples (background model blacklist)",
    "strand_bias": "Alt fragments strongly biased to one strand",
}
INFO = [
    ("GENE", "1", "String", "Gene(s) overlapping the variant"),
    ("EXON", "1", "String", "Exon number(s) overlapping the variant"),
    ("PROTEIN", "1", "String", "Protein change: the hotspot list's name, else the short HGVS p. "
                               "on TRANSCRIPT"),
    ("CATEGORY", "1", "String", "somatic, germline, chip or artifact"),
    ("SOURCE", "1", "String", "Why the site is tracked: discovered, known, hotspot"),
    ("VTYPE", "1", "String", "snv, insertion or deletion"),
    # From the transcript model (config 'annotation'); VCF 4.3 percent-encoding ('=' is %3D).
    ("CONSEQUENCE", "1", "String", "Most severe consequence on TRANSCRIPT (bcftools csq)"),
    ("TRANSCRIPT", "1", "String", "Transcript the consequence and HGVS refer to"),
    ("HGVSC", "1", "String", "HGVS c. (or n.) notation on TRANSCRIPT"),
    ("HGVSP", "1", "String", "HGVS p. notation on TRANSCRIPT"),
]
_INFO_COLUMNS = (("GENE", "gene"), ("EXON", "exon"), ("PROTEIN", "protein_change"),
                 ("CATEGORY", "category"), ("SOURCE", "source"), ("VTYPE", "variant_type"),
                 ("CONSEQUENCE", "consequence"), ("TRANSCRIPT", "transcript"),
                 ("HGVSC", "hgvs_c"), ("HGVSP", "hgvs_p"))
_ENCODED = ("HGVSC", "HGVSP")
_PERCENT = str.maketrans({"%": "%25", ";": "%3B", "=": "%3D", ",": "%2C", " ": "%20"})
FORMAT = [
    ("GT", "1", "String", "Presence call: 0/1 detected, 1/1 detected at VAF>=0.9, "
                          "0/0 not detected, ./. undetermined"),
    ("AD", "R", "Integer", "Fragments supporting ref and alt (overlapping mates counted once)"),
    ("DP", "1", "Integer", "Informative fragments (ref + alt + other alleles)"),
    ("AF", "A", "Float", "Variant allele fraction (alt / DP)"),
    ("AFL", "A", "Float", "Lower bound of the 95% Wilson interval of AF"),
    ("AFU", "A", "Float", "Upper bound of the 95% Wilson interval of AF"),
    ("BG", "A", "Float", "Background error rate of the site and substitution"),
    ("PV", "A", "Float", "Beta-binomial p-value of presence against the background"),
    ("ST", "1", "String", "detected, not_detected or undetermined"),
    ("SB", "4", "Integer", "Strand counts: ref forward, ref reverse, alt forward, alt reverse"),
    ("FLR", "1", "Float", "Median fragment length (bp) of ref-supporting fragments"),
    ("FLA", "1", "Float", "Median fragment length (bp) of alt-supporting fragments"),
]


def _num(value, digits: int = 6):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits) if digits else float(value)


def _gt(status: str, vaf: float) -> tuple:
    if status == "detected":
        return (1, 1) if vaf >= 0.9 else (0, 1)
    if status == "not_detected":
        return (0, 0)
    return (None, None)


def write_patient_vcf(tracked: pd.DataFrame, samples: list[str], contigs: dict[str, int],
                      out_path: str | Path, source: str = "plasmatrack") -> None:
    """Write ``out_path`` (.vcf.gz) and its ``.tbi`` atomically from one patient's tracked rows."""
    import pysam

    header = pysam.VariantHeader()
    header.add_meta("source", source)
    for name, length in contigs.items():
        header.contigs.add(name, length=length)
    for fid, desc in FILTERS.items():
        header.filters.add(fid, None, None, desc)
    for fid, number, ftype, desc in INFO:
        header.info.add(fid, number, ftype, desc)
    for fid, number, ftype, desc in FORMAT:
        header.formats.add(fid, number, ftype, desc)
    for sample in samples:
        header.add_sample(sample)

    order = {c: i for i, c in enumerate(contigs)}
    variants = tracked.drop_duplicates("site_id").copy()
    variants["_rank"] = variants["chrom"].map(order)
    variants = variants.sort_values(["_rank", "pos", "ref", "alt"], kind="mergesort")
    by_site = {k: g.set_index("sample_id") for k, g in tracked.groupby("site_id", sort=False)}

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=f".{out_path.name}.") as tmp:
        tmp_vcf = Path(tmp) / "out.vcf.gz"
        with pysam.VariantFile(str(tmp_vcf), "wz", header=header) as vcf:
            for v in variants.itertuples(index=False):
                rec = vcf.new_record(contig=v.chrom, start=int(v.pos) - 1, alleles=(v.ref, v.alt))
                filters = [] if v.category == "somatic" else [v.category]
                for reason in ("blacklisted", "strand_bias"):
                    if reason in str(v.filters).split(";"):
                        filters.append(reason)
                for f in filters or ["PASS"]:
                    rec.filter.add(f)
                for key, col in _INFO_COLUMNS:
                    value = getattr(v, col, "")
                    if isinstance(value, str) and value:
                        rec.info[key] = (value.translate(_PERCENT) if key in _ENCODED else
                                         value.replace(";", ",").replace(" ", "_")
                                         .replace("=", "%3D"))
                rows = by_site[v.site_id]
                for sample in samples:
                    if sample not in rows.index:
                        continue
                    r = rows.loc[sample]
                    fmt = rec.samples[sample]
                    fmt["GT"] = _gt(r["status"], r["vaf"] if pd.notna(r["vaf"]) else 0.0)
                    fmt["AD"] = (int(r["ref_count"]), int(r["alt_count"]))
                    fmt["DP"] = int(r["depth"])
                    for key, col in (("AF", "vaf"), ("AFL", "vaf_lower"), ("AFU", "vaf_upper"),
                                     ("BG", "background_rate"), ("PV", "p_value")):
                        value = _num(r[col], 0)
                        if value is not None:
                            fmt[key] = (value,)
                    fmt["ST"] = r["status"]
                    fmt["SB"] = tuple(int(r[c])
                                      for c in ("ref_fwd", "ref_rev", "alt_fwd", "alt_rev"))
                    for key, col in (("FLR", "ref_fragment_median"),
                                     ("FLA", "alt_fragment_median")):
                        value = _num(r[col], 1)
                        if value is not None:
                            fmt[key] = value
                vcf.write(rec)
        pysam.tabix_index(str(tmp_vcf), preset="vcf", force=True)
        os.replace(f"{tmp_vcf}.tbi", f"{out_path}.tbi")
        os.replace(tmp_vcf, out_path)
