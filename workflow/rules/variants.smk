# Variant discovery and serial tracking: candidates per patient from pooled plasma (+ known
# variants, hotspots) -> one cohort site list -> fragment counts per sample -> background model
# from controls -> calls, classification, SNV tumour fraction and a VCF per patient.
# Methods and choices: docs/variants.md; logic: scripts/plasmatrack/variants/.
import pandas as _variants_pd

from plasmatrack.variants.annotate import exons_path as _variants_exons_path
from plasmatrack.variants.background import choose_controls as _variants_controls

VARIANTS_SITES = tables.VARIANT_SITES.path
VARIANTS_TRACKED = tables.TRACKED_VARIANTS.path
VARIANTS_SNV_TF = tables.SNV_TUMOUR_FRACTION.path
VARIANTS_MAF = tables.COHORT_MAF.path
# Optional GFF3 transcript model: consequences and HGVS of every site (docs/variants.md).
VARIANTS_ANNOTATION = config["annotation"]
VARIANTS_BACKGROUND = {
    "background": tables.VARIANT_BACKGROUND.path,
    "threshold": tables.DETECTION_THRESHOLD.path,
    "controls": tables.CONTROL_OBSERVATIONS.path,
}
VARIANTS_CONFIG = config["variants"]
# Discovery runs over the panel targets, or over the gene spans for whole-genome data.
VARIANTS_REGIONS = PANEL_BED or GENES_BED
VARIANTS_EXONS = _variants_exons_path(VARIANTS_CONFIG["exons"], config["genes"])
VARIANTS_KNOWN = VARIANTS_CONFIG["known_variants"]
# A cohort table of known variants is an input file; a per-patient "{patient}" pattern is not
# (a patient without a file simply has none).
VARIANTS_KNOWN_FILE = (
    VARIANTS_KNOWN if VARIANTS_KNOWN and "{patient}" not in VARIANTS_KNOWN else []
)
VARIANTS_CONTROL_SAMPLES = _variants_controls(
    SAMPLES, VARIANTS_CONFIG["background"]["max_control_samples"]
)
VARIANTS_SAMPLE_META = {
    row.sample_id: {
        "patient_id": row.patient_id,
        "sample_type": row.sample_type,
        "timepoint_days": None if _variants_pd.isna(row.timepoint_days) else int(row.timepoint_days),
    }
    for row in SAMPLES.itertuples(index=False)
}
# One counting job per patient writes a folder of per-sample counts: 1 job instead of one per
# sample keeps the planning of a large cohort shorter (docs/cluster.md, "Scale").
VARIANTS_COUNTS_DIR = "results/variants/{patient}/counts"
VARIANTS_COUNT_FILE = "results/variants/{patient}/counts/{sample}.counts.tsv"
VARIANTS_BY_PATIENT = {
    patient: {
        "plasma_ids": list(rows.loc[rows["sample_type"] == "plasma", "sample_id"]),
        # the consensus BAM for samples with UMIs (umi.smk)
        "plasma_bams": pileup_bams(rows[rows["sample_type"] == "plasma"]),
        "plasma_bais": pileup_bams(rows[rows["sample_type"] == "plasma"], index=True),
        "samples": list(rows["sample_id"]),
        "bams": pileup_bams(rows),
        "bais": pileup_bams(rows, index=True),
        # counted at every site of the cohort: the background's controls
        "controls": [s for s in rows["sample_id"] if s in VARIANTS_CONTROL_SAMPLES],
        "counts": sample_paths(VARIANTS_COUNT_FILE, rows),
        "runtime": 30 * len(rows),
    }
    for patient, rows in SAMPLES.groupby("patient_id", sort=True)
}

ALL_TARGETS.extend(
    [VARIANTS_TRACKED, VARIANTS_SNV_TF, VARIANTS_MAF]
    + [f"results/variants/{p}.vcf.gz" for p in PATIENTS]
    + [f"results/variants/{p}.vcf.gz.tbi" for p in PATIENTS]
)


rule variants_discover:
    input:
        bams=patient_item(VARIANTS_BY_PATIENT, "plasma_bams"),
        bais=patient_item(VARIANTS_BY_PATIENT, "plasma_bais"),
        fasta=REF,
        fai=f"{REF}.fai",
        regions=VARIANTS_REGIONS,
        hotspots=HOTSPOTS or [],
        known=VARIANTS_KNOWN_FILE,
        # draws failing sample identity are not pooled (docs/qc.md); only when it runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        candidates="results/variants/{patient}/candidates.tsv",
    params:
        plasma_ids=patient_item(VARIANTS_BY_PATIENT, "plasma_ids"),
        known=VARIANTS_KNOWN,
        settings=VARIANTS_CONFIG,
    log:
        "logs/variants/{patient}/discover.log",
    benchmark:
        "benchmarks/variants/{patient}/discover.tsv"
    threads: 1
    resources:
        mem_mb=VARIANTS_CONFIG["mem_mb"],
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_discover.py"


rule variants_sites:
    input:
        candidates=expand("results/variants/{patient}/candidates.tsv", patient=PATIENTS),
        fasta=REF,
        fai=f"{REF}.fai",
        genes=GENES_BED,
        exons=VARIANTS_EXONS or [],
        hotspots=HOTSPOTS or [],
        annotation=VARIANTS_ANNOTATION or [],
    output:
        sites=VARIANTS_SITES,
    params:
        patients=PATIENTS,
    log:
        "logs/variants/sites.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_sites.py"


rule variants_count:
    input:
        bams=patient_item(VARIANTS_BY_PATIENT, "bams"),
        bais=patient_item(VARIANTS_BY_PATIENT, "bais"),
        sites=VARIANTS_SITES,
        fasta=REF,
        fai=f"{REF}.fai",
    output:
        counts=directory(VARIANTS_COUNTS_DIR),
    params:
        samples=patient_item(VARIANTS_BY_PATIENT, "samples"),
        controls=patient_item(VARIANTS_BY_PATIENT, "controls"),
        settings=VARIANTS_CONFIG,
    log:
        "logs/variants/{patient}/count.log",
    benchmark:
        "benchmarks/variants/{patient}/count.tsv"
    threads: VARIANTS_CONFIG["threads"]
    resources:
        mem_mb=VARIANTS_CONFIG["mem_mb"],
        runtime=patient_item(VARIANTS_BY_PATIENT, "runtime"),
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_count.py"


rule variants_background:
    input:
        sites=VARIANTS_SITES,
        counts=expand(VARIANTS_COUNTS_DIR, patient=PATIENTS),
        # draws failing sample identity are nobody's control (docs/qc.md); only when it runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        **VARIANTS_BACKGROUND,
    params:
        samples=list(SAMPLES["sample_id"]),
        count_files=sample_paths(VARIANTS_COUNT_FILE),
        meta=VARIANTS_SAMPLE_META,
        controls=VARIANTS_CONTROL_SAMPLES,
        settings=VARIANTS_CONFIG,
    log:
        "logs/variants/background.log",
    threads: 1
    resources:
        mem_mb=VARIANTS_CONFIG["mem_mb"],
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_background.py"


rule variants_call:
    input:
        sites=VARIANTS_SITES,
        counts=VARIANTS_COUNTS_DIR,
        background=VARIANTS_BACKGROUND["background"],
        threshold=VARIANTS_BACKGROUND["threshold"],
        controls=VARIANTS_BACKGROUND["controls"],
        fasta=REF,
        fai=f"{REF}.fai",
        # draws failing sample identity do not classify variants (docs/qc.md); only when it runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        tracked="results/variants/{patient}/tracked.tsv",
        snv_tf="results/variants/{patient}/snv_tf.tsv",
        vcf="results/variants/{patient}.vcf.gz",
        tbi="results/variants/{patient}.vcf.gz.tbi",
    params:
        samples=patient_item(VARIANTS_BY_PATIENT, "samples"),
        count_files=patient_item(VARIANTS_BY_PATIENT, "counts"),
        meta=VARIANTS_SAMPLE_META,
        settings=VARIANTS_CONFIG,
    log:
        "logs/variants/{patient}/call.log",
    threads: 1
    resources:
        mem_mb=VARIANTS_CONFIG["mem_mb"],
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_call.py"


rule variants_tables:
    input:
        tracked=expand("results/variants/{patient}/tracked.tsv", patient=PATIENTS),
        snv_tf=expand("results/variants/{patient}/snv_tf.tsv", patient=PATIENTS),
    output:
        tracked=VARIANTS_TRACKED,
        snv_tf=VARIANTS_SNV_TF,
    log:
        "logs/variants/tables.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_tables.py"


rule variants_maf:
    input:
        tracked=VARIANTS_TRACKED,
    output:
        maf=VARIANTS_MAF,
    params:
        settings=VARIANTS_CONFIG["maf"],
    log:
        "logs/variants/maf.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/variants_maf.py"
