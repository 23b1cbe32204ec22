# Copy number, tumour fraction and gene calls: bins (cnv_bins) -> coverage per sample
# (cnv_coverage) -> panel of normals (cnv_reference) -> fix, segment, HMM, gene statistics per
# sample (cnv_call) -> detection calibrated on the tumour-free samples and cohort tables
# (cnv_summary). Choices and measurements: docs/cnv.md; logic: scripts/plasmatrack/cnv/.

from plasmatrack.cnv.call import CallSettings

CNV = config["cnv"]
# The segmentation method is fixed by the config, never by what is installed: a cbs run on a
# machine without R stops here, before any job, instead of falling back to another method.
try:
    from plasmatrack.cnv.segment import resolve_method as _resolve_segment_method

    _resolve_segment_method(CNV["segment_method"])
except InputError as exc:
    raise WorkflowError(f"config cnv.segment_method: {exc}") from None
logger.info(f"plasmatrack: copy-number segments by CNVkit {CNV['segment_method']}")
CNV_HEALTHY = list(CNV["healthy_plasma"])
_cnv_unknown = sorted(set(CNV_HEALTHY) - set(SAMPLES["sample_id"]))
if _cnv_unknown:
    raise WorkflowError(f"config cnv.healthy_plasma: not in the sample sheet: {_cnv_unknown}")
if CNV["reference_pool"] == "plasma":
    CNV_POOL = SAMPLES[SAMPLES["sample_type"] == "plasma"]
elif CNV["reference_pool"] == "healthy":
    if not CNV_HEALTHY:
        raise WorkflowError(
            "config cnv.reference_pool is 'healthy' but cnv.healthy_plasma lists no sample"
        )
    CNV_POOL = SAMPLES[SAMPLES["sample_id"].isin(CNV_HEALTHY)]
else:
    CNV_POOL = SAMPLES[
        (SAMPLES["sample_type"] == "normal") | SAMPLES["sample_id"].isin(CNV_HEALTHY)
    ]
CNV_POOL_IDS = set(CNV_POOL["sample_id"])
# How the reference pools its members and whether it is shrunk (plasmatrack.cnv.call).
CNV_CALL = CallSettings.from_config(CNV)
CNV_POOL_CORRECTIONS = CNV_CALL.pool_corrections
CNV_SHRINK = CNV_CALL.shrink
# TF in genome copies from the fragment lengths (not with size selection: the counted fragments
# are then a length-biased subset).
CNV_LENGTH_CORRECTION = bool(CNV["fragment_length_correction"]) and not CNV["size_selection"]
# Members of a small panel are normalised leave-one-out (their cnv_call job reads the others).
CNV_LEAVE_ONE_OUT = 0 < len(CNV_POOL) <= CNV["leave_one_out_max_pool"]
# Known to carry no tumour DNA: detection is calibrated on their leave-one-out fits.
CNV_TUMOUR_FREE = sorted(
    SAMPLES.loc[
        (SAMPLES["sample_type"] == "normal") | SAMPLES["sample_id"].isin(CNV_HEALTHY),
        "sample_id",
    ]
)
CNV_BINS = {
    "targets": "results/cnv/bins/targets.bed",
    "antitargets": "results/cnv/bins/antitargets.bed",
    "access": "results/cnv/bins/access.bed",
}
CNV_TABLES = {
    "tumour_fraction": tables.TUMOUR_FRACTION_CN.path,
    "genes": tables.GENES.path,
    "erbb2": tables.ERBB2.path,
    "detection": tables.CNV_DETECTION.path,
}
CNV_SAMPLE = "results/cnv/{patient}/{sample}"

# The published tumour fraction: the copy-number estimate combined with the SNV and BAF evidence
# of the variants stage (rule cnv_combine); downstream stages read this one.
CNV_COMBINED = {
    "tumour_fraction": tables.TUMOUR_FRACTION.path,
    "baf": tables.TUMOUR_FRACTION_BAF.path,
}
CNV_COMBINE_METHODS = list(CNV["combine"]["methods"])

# The per-sample .cnr/.cns/.seg and .hmm_states.tsv are outputs of the cnv_call and
# cnv_hmm_sample jobs that cnv_summary needs for every sample: no need to list them in `all`.
ALL_TARGETS.extend(list(CNV_TABLES.values()) + list(CNV_COMBINED.values()))


rule cnv_bins:
    input:
        fasta=REF,
        fai=f"{REF}.fai",
        panel=PANEL_BED or [],
        genes=GENES_BED,
        exclude=CNV["exclude"],
    output:
        **CNV_BINS,
    params:
        bin_size=CNV["bin_size"],
        antitarget_avg_size=CNV["antitarget_avg_size"],
        antitarget_min_size=CNV["antitarget_min_size"],
        target_avg_size=CNV["target_avg_size"],
    log:
        "logs/cnv/bins.log",
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_bins.py"


rule cnv_coverage:
    input:
        bam="results/align/{patient}/{sample}.bam",
        bai="results/align/{patient}/{sample}.bam.bai",
        targets=CNV_BINS["targets"],
        antitargets=CNV_BINS["antitargets"],
    output:
        target=f"{CNV_SAMPLE}.targetcoverage.cnn",
        antitarget=f"{CNV_SAMPLE}.antitargetcoverage.cnn",
        lengths=f"{CNV_SAMPLE}.fragment_lengths.tsv",
    params:
        min_mapq=CNV["min_mapq"],
        size_selection=CNV["size_selection"],
    log:
        "logs/cnv/{patient}/{sample}.coverage.log",
    benchmark:
        "benchmarks/cnv/{patient}/{sample}.coverage.tsv"
    threads: CNV["threads"]
    resources:
        mem_mb=CNV["mem_mb"],
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_coverage.py"


rule cnv_reference:
    input:
        targets=sample_paths(f"{CNV_SAMPLE}.targetcoverage.cnn", CNV_POOL),
        antitargets=sample_paths(f"{CNV_SAMPLE}.antitargetcoverage.cnn", CNV_POOL),
        fasta=REF,
        fai=f"{REF}.fai",
        target_bins=CNV_BINS["targets"],
        antitarget_bins=CNV_BINS["antitargets"],
        # members failing sample identity or contaminated are left out (docs/qc.md)
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        reference="results/cnv/reference.cnn",
        warning="results/cnv/reference.cnn.warning",
        pool=tables.CNV_REFERENCE_POOL.path,
    params:
        pool_ids=list(CNV_POOL["sample_id"]),
        pool_corrections=CNV_POOL_CORRECTIONS,
        shrink=CNV_SHRINK,
    log:
        "logs/cnv/reference.log",
    resources:
        mem_mb=CNV["mem_mb"],
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_reference.py"


rule cnv_call:
    input:
        target=f"{CNV_SAMPLE}.targetcoverage.cnn",
        antitarget=f"{CNV_SAMPLE}.antitargetcoverage.cnn",
        reference="results/cnv/reference.cnn",
        pool_targets=cnv_leave_one_out_files(f"{CNV_SAMPLE}.targetcoverage.cnn"),
        pool_antitargets=cnv_leave_one_out_files(f"{CNV_SAMPLE}.antitargetcoverage.cnn"),
        fasta=REF,
        target_bins=CNV_BINS["targets"],
        antitarget_bins=CNV_BINS["antitargets"],
        genes=GENES_BED,
        # the members in the reference (identity leaves some out; docs/qc.md)
        pool=tables.CNV_REFERENCE_POOL.path,
    output:
        cnr=tables.CNR.path,
        cns=tables.CNS.path,
        seg=tables.SEG.path,
        gene_stats=f"{CNV_SAMPLE}.gene_stats.tsv",
        info=f"{CNV_SAMPLE}.info.tsv",
    params:
        pool_ids=cnv_leave_one_out_ids,
        bias=CNV["bias_correction"],
        pool_corrections=CNV_POOL_CORRECTIONS,
        shrink=CNV_SHRINK,
        segment_method=CNV["segment_method"],
        segment_threshold=CNV["segment_threshold"],
    log:
        "logs/cnv/{patient}/{sample}.call.log",
    benchmark:
        "benchmarks/cnv/{patient}/{sample}.call.tsv"
    threads: CNV["threads"]
    resources:
        mem_mb=CNV["mem_mb"],
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_call.py"


rule cnv_hmm:
    input:
        cnrs=patient_sample_files(tables.CNR.path),
        infos=patient_sample_files(f"{CNV_SAMPLE}.info.tsv"),
        lengths=patient_sample_files(f"{CNV_SAMPLE}.fragment_lengths.tsv")
        if CNV_LENGTH_CORRECTION
        else [],
    output:
        fits="results/cnv/{patient}/patient.hmm_fits.tsv",
        states="results/cnv/{patient}/patient.hmm_states.tsv",
    params:
        sample_ids=patient_sample_field("sample_id"),
        sample_types=patient_sample_field("sample_type"),
        hmm=CNV["hmm"],
        mode=CNV["hmm_mode"],
        design="panel" if PANEL_BED else "wgs",
    log:
        "logs/cnv/{patient}/hmm.log",
    benchmark:
        "benchmarks/cnv/{patient}/hmm.tsv"
    threads: CNV["threads"]
    resources:
        mem_mb=CNV["mem_mb"],
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_hmm.py"


rule cnv_hmm_sample:
    input:
        fits="results/cnv/{patient}/patient.hmm_fits.tsv",
        states="results/cnv/{patient}/patient.hmm_states.tsv",
    output:
        fit=f"{CNV_SAMPLE}.tf.tsv",
        states=tables.HMM_STATES.path,
    log:
        "logs/cnv/{patient}/{sample}.hmm_split.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_hmm_sample.py"


rule cnv_summary:
    input:
        fits=sample_paths(f"{CNV_SAMPLE}.tf.tsv"),
        gene_stats=sample_paths(f"{CNV_SAMPLE}.gene_stats.tsv"),
        # tumour-free samples failing sample identity or contaminated do not calibrate
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
    output:
        **CNV_TABLES,
    params:
        samples=SAMPLES[["sample_id", "patient_id", "sample_type", "timepoint_days"]].to_dict(
            "records"
        ),
        tumour_free=CNV_TUMOUR_FREE,
        detection=CNV["detection"],
        genes=CNV["genes"],
        her2_gene=config["her2_gene"],
    log:
        "logs/cnv/summary.log",
    localrule: True
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_summary.py"


rule cnv_combine:
    input:
        unpack(cnv_combine_inputs),
    output:
        **CNV_COMBINED,
    params:
        plasma_ids=list(PLASMA["sample_id"]),
        alpha=CNV["detection"]["alpha"],
        methods=CNV_COMBINE_METHODS,
        snv_copy_number=CNV["combine"]["snv_copy_number"],
        snv_tf=config["variants"]["snv_tf"],
    log:
        "logs/cnv/combine.log",
    localrule: True
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cnv_combine.py"
