# Reference preparation and alignment: bwa mem -Y -> fixmate -> sort -> markdup -> index, one job
# (index_bam indexes imported BAMs).
import re

_FASTQ_IDS = sorted(SAMPLES.loc[SAMPLES["bam"] == "", "sample_id"])
_BAM_IDS = sorted(SAMPLES.loc[SAMPLES["bam"] != "", "sample_id"])
# As prefix trees: a plain alternation of thousands of IDs makes planning a large cohort slow
# (plasmatrack.ids.ids_regex; docs/cluster.md, "Scale: planning ...").
FASTQ_SAMPLE_RE = ids_regex(_FASTQ_IDS)
BAM_SAMPLE_RE = ids_regex(_BAM_IDS)

# Per-sample files are not listed as targets of `all`: the QC and copy-number jobs that every
# sample needs already require them (and their jobs' other outputs), and each extra target makes
# Snakemake walk its part of the DAG again (docs/cluster.md, "Scale: planning ...").
ALL_TARGETS.extend([GENES_BED] + ([PANEL_BED] if PANEL_BED else []))


rule reference_fasta:
    input:
        fasta=config["reference"]["fasta"],
    output:
        fasta=REF,
    log:
        "logs/reference/fasta.log",
    localrule: True
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/reference_fasta.py"


rule reference_faidx:
    input:
        fasta=REF,
    output:
        fai=f"{REF}.fai",
        dict=re.sub(r"\.fa$", ".dict", REF),
    log:
        "logs/reference/faidx.log",
    conda:
        "../../envs/align.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "(samtools faidx {input.fasta} && samtools dict {input.fasta} -o {output.dict}) 2> {log}"


rule reference_bwa_index:
    input:
        fasta=REF,
    output:
        index=BWA_INDEX,
    log:
        "logs/reference/bwa_index.log",
    conda:
        "../../envs/align.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    shell:
        "bwa index {input.fasta} 2> {log}"


rule reference_beds:
    input:
        fasta=REF,
        fai=f"{REF}.fai",
        genes=config["genes"],
        panel=config["panel"] or [],
    output:
        genes=GENES_BED,
        panel=PANEL_BED or [],
    params:
        her2_gene=config["her2_gene"],
    log:
        "logs/reference/beds.log",
    localrule: True
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/reference_beds.py"


rule check_fastq:
    input:
        unpack(fastq_pair),
    output:
        counts="results/align/{patient}/{sample}.fastq_counts.tsv",
    wildcard_constraints:
        sample=FASTQ_SAMPLE_RE,
    log:
        "logs/align/{patient}/{sample}.check_fastq.log",
    benchmark:
        "benchmarks/align/{patient}/{sample}.check_fastq.tsv"
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/align_check_fastq.py"


rule align:
    input:
        unpack(align_fastq_pair),
        counts="results/align/{patient}/{sample}.fastq_counts.tsv",
        index=BWA_INDEX,
        fasta=REF,
    output:
        bam="results/align/{patient}/{sample}.bam",
        # indexed here rather than by index_bam: one job fewer per sample (docs/cluster.md)
        bai="results/align/{patient}/{sample}.bam.bai",
    params:
        rg=read_group,
        tmp="results/align/{patient}/{sample}.tmp",
    wildcard_constraints:
        sample=FASTQ_SAMPLE_RE,
    log:
        bwa="logs/align/{patient}/{sample}.bwa.log",
        markdup="logs/align/{patient}/{sample}.markdup.log",
    benchmark:
        "benchmarks/align/{patient}/{sample}.align.tsv"
    threads: config["align"]["threads"]
    resources:
        mem_mb=lambda wildcards, attempt: config["align"]["mem_mb"] * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        "../../envs/align.yaml"
    shell:
        "set -o pipefail; rm -rf {params.tmp:q} && mkdir -p {params.tmp:q} && "
        "bwa mem -Y -t {threads} -R {params.rg:q} {input.fasta:q} {input.r1:q} {input.r2:q} "
        "2> {log.bwa:q} "
        "| samtools fixmate -m -u - - "
        "| samtools sort -u -@ {threads} -m 500M -T {params.tmp:q}/sort -o {params.tmp:q}/sorted.bam - "
        "&& samtools markdup -s -@ {threads} {params.tmp:q}/sorted.bam {params.tmp:q}/markdup.bam "
        "2> {log.markdup:q} "
        "&& samtools index {params.tmp:q}/markdup.bam {params.tmp:q}/markdup.bam.bai "
        "&& mv {params.tmp:q}/markdup.bam {output.bam:q} "
        "&& mv {params.tmp:q}/markdup.bam.bai {output.bai:q} && rm -rf {params.tmp:q}"


rule import_bam:
    input:
        bam=input_bam,
        fai=f"{REF}.fai",
    output:
        bam="results/align/{patient}/{sample}.bam",
    wildcard_constraints:
        sample=BAM_SAMPLE_RE,
    log:
        "logs/align/{patient}/{sample}.import.log",
    localrule: True
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/align_import_bam.py"


# Imported BAMs only: the align rule indexes the BAMs it writes.
rule index_bam:
    input:
        bam="results/align/{patient}/{sample}.bam",
    output:
        bai="results/align/{patient}/{sample}.bam.bai",
    wildcard_constraints:
        sample=BAM_SAMPLE_RE,
    log:
        "logs/align/{patient}/{sample}.index.log",
    benchmark:
        "benchmarks/align/{patient}/{sample}.index.tsv"
    conda:
        "../../envs/align.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "samtools index {input.bam:q} {output.bai:q} 2> {log:q}"
