# UMI molecules (issue 20): inline UMIs cut out of the reads before alignment (umi_extract), then
# per sample a consensus BAM of one read pair per molecule (umi_consensus) and the cohort table
# (umi_summary). The align rule and the variant pileups take their reads through the input
# functions `align_fastq_pair` and `pileup_bams` (common.smk). With umi.mode none and no sheet
# column umi_mode nothing here runs and every path is today's. Logic: scripts/plasmatrack/umi/
# (docs/umi.md, and its "In the pipeline" section).
UMI_CONFIG = config["umi"]
# the sheet's umi_mode overrides the config's umi.mode for its sample
UMI_MODE = {
    row["sample_id"]: row["umi_mode"] or UMI_CONFIG["mode"] for row in SAMPLES.to_dict("records")
}
UMI_IDS = sorted(s for s, mode in UMI_MODE.items() if mode != "none")
# inline UMIs are cut out of FASTQs; BAM inputs keep their RX tags (source tag)
UMI_INLINE_IDS = sorted(
    s for s in UMI_IDS if UMI_CONFIG["source"] == "inline" and SAMPLE_ROWS[s]["bam"] == ""
)
UMI_SAMPLE_RE = ids_regex(UMI_IDS)
UMI_INLINE_RE = ids_regex(UMI_INLINE_IDS)
UMI_RAW_BAM = "results/align/{patient}/{sample}.bam"
UMI_CONSENSUS_BAM = "results/align/{patient}/{sample}.consensus.bam"
UMI_EXTRACTED = {
    "r1": "results/align/{patient}/{sample}.umi_R1.fastq.gz",
    "r2": "results/align/{patient}/{sample}.umi_R2.fastq.gz",
}
UMI_ROWS = SAMPLES[SAMPLES["sample_id"].isin(UMI_IDS)]
# The BAM each sample's variant pileups read (tracking, background, counts): the consensus BAM
# where UMIs are on, else the deduplicated one. Copy number and QC always read the latter.
UMI_PILEUP_BAM = {
    row["sample_id"]: (UMI_CONSENSUS_BAM if row["sample_id"] in UMI_IDS else UMI_RAW_BAM).format(
        patient=row["patient_id"], sample=row["sample_id"]
    )
    for row in SAMPLES.to_dict("records")
}
UMI_PILEUP_BAI = {sample: f"{bam}.bai" for sample, bam in UMI_PILEUP_BAM.items()}

if UMI_IDS:
    ALL_TARGETS.append(tables.UMI_SUMMARY.path)


# The consensus rule writes its own index. index_bam indexes only imported BAMs (its sample
# constraint), so it cannot match "<sample>.consensus.bam.bai" today; the rule order is a guard
# should that constraint ever widen.
ruleorder: umi_consensus > index_bam


rule umi_extract:
    input:
        unpack(fastq_pair),
    output:
        **UMI_EXTRACTED,
    params:
        settings=UMI_CONFIG,
        mode=sample_item(UMI_MODE),
    wildcard_constraints:
        sample=UMI_INLINE_RE,
    log:
        "logs/umi/{patient}/{sample}.extract.log",
    benchmark:
        "benchmarks/umi/{patient}/{sample}.extract.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/umi_extract.py"


rule umi_consensus:
    input:
        bam=UMI_RAW_BAM,
        bai=f"{UMI_RAW_BAM}.bai",
        fasta=REF,
        fai=f"{REF}.fai",
        panel=PANEL_BED or [],
    output:
        bam=UMI_CONSENSUS_BAM,
        bai=f"{UMI_CONSENSUS_BAM}.bai",
        metrics=tables.UMI_METRICS.path,
        family_sizes=tables.UMI_FAMILY_SIZES.path,
    params:
        settings=UMI_CONFIG,
        mode=sample_item(UMI_MODE),
    wildcard_constraints:
        sample=UMI_SAMPLE_RE,
    log:
        "logs/umi/{patient}/{sample}.consensus.log",
    benchmark:
        "benchmarks/umi/{patient}/{sample}.consensus.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/umi_consensus.py"


# Only a run with UMIs has the cohort table: the report reads it when a rule can make it.
if UMI_IDS:

    rule umi_summary:
        input:
            metrics=sample_paths(tables.UMI_METRICS.path, UMI_ROWS),
        output:
            summary=tables.UMI_SUMMARY.path,
        log:
            "logs/umi/summary.log",
        localrule: True
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../../envs/python.yaml"
        script:
            "../../scripts/rules/umi_summary.py"
