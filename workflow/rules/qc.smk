# cfDNA QC: one pass over each sample's BAM (qc_sample), then the cohort table (qc_summary).
# Metrics, filters and thresholds: docs/qc.md; logic: scripts/plasmatrack/qc/.

QC_SUMMARY = tables.QC_SUMMARY.path
QC_MULTIQC = [
    tables.QC_MULTIQC.path,
    "results/qc/multiqc/plasmatrack_fragment_lengths_mqc.json",
]

ALL_TARGETS.extend([QC_SUMMARY, *QC_MULTIQC])


rule qc_sample:
    input:
        bam="results/align/{patient}/{sample}.bam",
        bai="results/align/{patient}/{sample}.bam.bai",
        panel=PANEL_BED or [],
    output:
        qc=tables.QC_SAMPLE.path,
        fragments=tables.FRAGMENT_LENGTHS.path,
    params:
        sample_type=sample_field("sample_type"),
        timepoint_days=sample_field("timepoint_days"),
        thresholds=config["qc"],
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


rule qc_summary:
    input:
        qc=sample_paths(tables.QC_SAMPLE.path),
        fragments=sample_paths(tables.FRAGMENT_LENGTHS.path),
    output:
        summary=QC_SUMMARY,
        multiqc_stats=QC_MULTIQC[0],
        multiqc_fragments=QC_MULTIQC[1],
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
