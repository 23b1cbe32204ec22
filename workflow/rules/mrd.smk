# Residual disease per draw: the cohort's MRD sites (tumour-informed list, else the variants
# stage's plasma-detected somatic variants) -> molecule counts of every sample at every site ->
# one pooled call per plasma draw against the cross-patient background.
# Methods and choices: docs/mrd.md; logic: scripts/plasmatrack/mrd/.
import pandas as _mrd_pd

from plasmatrack.variants.background import choose_controls as _mrd_controls

MRD_CONFIG = config["mrd"]
MRD_SITES = tables.MRD_SITES.path
MRD_CALLS = tables.MRD_CALLS.path
# One counting job per patient writes a folder of per-sample counts: 1 job instead of one per
# sample keeps the planning of a large cohort shorter (docs/cluster.md, "Scale").
MRD_COUNTS_DIR = "results/mrd/{patient}/counts"
MRD_COUNT_FILE = "results/mrd/{patient}/counts/{sample}.counts.tsv"
# Counted at every patient's sites (the background's controls); the others at their own sites.
MRD_CONTROLS = set(_mrd_controls(SAMPLES, MRD_CONFIG["max_control_samples"]))
MRD_BY_PATIENT = {
    patient: {
        "samples": list(rows["sample_id"]),
        # the molecules the counts read: the UMI consensus BAM where the sample has UMIs, else
        # the deduplicated alignment (the variant pileups' BAM, umi.smk)
        "bams": pileup_bams(rows),
        "bais": pileup_bams(rows, index=True),
        "controls": [s for s in rows["sample_id"] if s in MRD_CONTROLS],
        "runtime": 15 * len(rows),
    }
    for patient, rows in SAMPLES.groupby("patient_id", sort=True)
}
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
        bams=patient_item(MRD_BY_PATIENT, "bams"),
        bais=patient_item(MRD_BY_PATIENT, "bais"),
        sites=MRD_SITES,
    output:
        counts=directory(MRD_COUNTS_DIR),
    params:
        samples=patient_item(MRD_BY_PATIENT, "samples"),
        controls=patient_item(MRD_BY_PATIENT, "controls"),
        settings=MRD_CONFIG,
    log:
        "logs/mrd/{patient}/count.log",
    benchmark:
        "benchmarks/mrd/{patient}/count.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=patient_item(MRD_BY_PATIENT, "runtime"),
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/mrd_count.py"


rule mrd_call:
    input:
        sites=MRD_SITES,
        counts=expand(MRD_COUNTS_DIR, patient=PATIENTS),
        # draws failing sample identity are nobody's control (docs/qc.md); only when it runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        calls=MRD_CALLS,
    params:
        samples=list(SAMPLES["sample_id"]),
        count_files=sample_paths(MRD_COUNT_FILE),
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
