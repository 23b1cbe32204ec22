# Residual disease per draw: the cohort's MRD sites (tumour-informed list, else the variants
# stage's plasma-detected somatic variants) -> molecule counts of every sample at every site ->
# one pooled call per plasma draw against the cross-patient background.
# Methods and choices: docs/mrd.md; logic: scripts/plasmatrack/mrd/.
import pandas as _mrd_pd

from plasmatrack.variants.background import choose_controls as _mrd_controls

MRD_CONFIG = config["mrd"]
MRD_SITES = tables.MRD_SITES.path
MRD_CALLS = tables.MRD_CALLS.path
MRD_COUNTS = sample_paths("results/mrd/{patient}/{sample}.counts.tsv")
# Counted at every patient's sites (the background's controls); the others at their own sites.
MRD_CONTROLS = set(_mrd_controls(SAMPLES, MRD_CONFIG["max_control_samples"]))
MRD_IS_CONTROL = {s: s in MRD_CONTROLS for s in SAMPLES["sample_id"]}
MRD_DRAWS = [
    {
        "sample_id": row.sample_id,
        "patient_id": row.patient_id,
        "sample_type": row.sample_type,
        "timepoint_days": None if _mrd_pd.isna(row.timepoint_days) else int(row.timepoint_days),
    }
    for row in SAMPLES.itertuples(index=False)
]

ALL_TARGETS.extend([MRD_CALLS])


rule mrd_sites:
    input:
        tumour_variants=MRD_CONFIG["tumour_variants"] or [],
        tracked=[] if MRD_CONFIG["tumour_variants"] else VARIANTS_TRACKED,
        ccf=[] if MRD_CONFIG["tumour_variants"] else tables.CCF.path,
        fasta=REF,
        fai=f"{REF}.fai",
        # plasma-informed sites are not taken from draws failing sample identity (docs/qc.md)
        identity=tables.IDENTITY_SAMPLES.path
        if IDENTITY_ON and not MRD_CONFIG["tumour_variants"]
        else [],
    output:
        sites=MRD_SITES,
    log:
        "logs/mrd/sites.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/mrd_sites.py"


rule mrd_count:
    input:
        bam=mrd_bam,
        bai=mrd_bai,
        sites=MRD_SITES,
    output:
        counts="results/mrd/{patient}/{sample}.counts.tsv",
    params:
        control=sample_item(MRD_IS_CONTROL),
        settings=MRD_CONFIG,
    log:
        "logs/mrd/{patient}/{sample}.count.log",
    benchmark:
        "benchmarks/mrd/{patient}/{sample}.count.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/mrd_count.py"


rule mrd_call:
    input:
        sites=MRD_SITES,
        counts=MRD_COUNTS,
        # draws failing sample identity are nobody's control (docs/qc.md); only when it runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        calls=MRD_CALLS,
    params:
        samples=list(SAMPLES["sample_id"]),
        draws=MRD_DRAWS,
        settings=MRD_CONFIG,
    log:
        "logs/mrd/call.log",
    benchmark:
        "benchmarks/mrd/call.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/mrd_call.py"
