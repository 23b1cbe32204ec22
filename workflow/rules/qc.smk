# cfDNA QC: one pass over each sample's BAM (qc_sample, which also counts the sample's identity
# fingerprint at the cohort's sites), then the cohort table (qc_summary).
# Metrics, filters and thresholds: docs/qc.md; logic: scripts/plasmatrack/qc/.

QC_SUMMARY = tables.QC_SUMMARY.path
QC_MULTIQC = [
    tables.QC_MULTIQC.path,
    "results/qc/multiqc/plasmatrack_fragment_lengths_mqc.json",
]

ALL_TARGETS.extend([QC_SUMMARY, *QC_MULTIQC])

# Sample identity (docs/qc.md, "Sample identity and contamination"): sites need a panel to
# discover them on, or a configured site VCF; without either, identity is not run.
IDENTITY = config["qc"]["identity"]
IDENTITY_ON = bool(config["panel"] or IDENTITY["fingerprint_sites"])
# Sites come from the normals; a cohort without normals finds them in its plasma draws.
IDENTITY_SITE_SAMPLES = NORMALS if len(NORMALS) else PLASMA
if IDENTITY_ON:
    ALL_TARGETS.extend([tables.IDENTITY.path, tables.IDENTITY_SAMPLES.path])
# The per-sample fingerprint is counted in the sample's QC job (one process: no second job and
# Python start-up per sample; docs/qc.md, "Speed").
QC_FINGERPRINT = {"fingerprint": tables.FINGERPRINT.path} if IDENTITY_ON else {}


rule qc_sample:
    input:
        bam="results/align/{patient}/{sample}.bam",
        bai="results/align/{patient}/{sample}.bam.bai",
        panel=PANEL_BED or [],
        sites=tables.FINGERPRINT_SITES.path if IDENTITY_ON else [],
    output:
        qc=tables.QC_SAMPLE.path,
        fragments=tables.FRAGMENT_LENGTHS.path,
        **QC_FINGERPRINT,
    params:
        sample_type=sample_field("sample_type"),
        timepoint_days=sample_field("timepoint_days"),
        thresholds=config["qc"],
        identity=IDENTITY,
    log:
        "logs/qc/{patient}/{sample}.qc.log",
    benchmark:
        "benchmarks/qc/{patient}/{sample}.qc.tsv"
    threads: config["qc"]["threads"]
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/qc_sample.py"


rule qc_fingerprint_sites:
    input:
        bams=(
            []
            if IDENTITY["fingerprint_sites"]
            else sample_paths("results/align/{patient}/{sample}.bam", IDENTITY_SITE_SAMPLES)
        ),
        bais=(
            []
            if IDENTITY["fingerprint_sites"]
            else sample_paths("results/align/{patient}/{sample}.bam.bai", IDENTITY_SITE_SAMPLES)
        ),
        sites=IDENTITY["fingerprint_sites"] or [],
        panel=PANEL_BED or [],
        fasta=REF,
        fai=f"{REF}.fai",
    output:
        sites=tables.FINGERPRINT_SITES.path,
    params:
        settings=IDENTITY,
    log:
        "logs/qc/fingerprint_sites.log",
    benchmark:
        "benchmarks/qc/fingerprint_sites.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/qc_fingerprint_sites.py"


rule qc_identity:
    input:
        fingerprints=sample_paths(tables.FINGERPRINT.path),
        sites=tables.FINGERPRINT_SITES.path,
    output:
        identity=tables.IDENTITY.path,
        samples=tables.IDENTITY_SAMPLES.path,
    params:
        sample_ids=list(SAMPLES["sample_id"]),
        patient_ids=list(SAMPLES["patient_id"]),
        sample_types=list(SAMPLES["sample_type"]),
        settings=IDENTITY,
    log:
        "logs/qc/identity.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/qc_identity.py"


rule qc_summary:
    input:
        qc=sample_paths(tables.QC_SAMPLE.path),
        fragments=sample_paths(tables.FRAGMENT_LENGTHS.path),
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        summary=QC_SUMMARY,
        multiqc_stats=QC_MULTIQC[0],
        multiqc_fragments=QC_MULTIQC[1],
    params:
        reference_pool=qc_reference_pool,
    log:
        "logs/qc/summary.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/qc_summary.py"
