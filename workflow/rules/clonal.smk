# Clonal evolution: somatic variants -> cancer cell fractions -> clusters of trajectories ->
# clone prevalences over time, sum-rule trees and clone events (emerging, expanding, ...).
# Methods and choices: docs/clonal.md; logic: scripts/plasmatrack/clonal/.
CLONAL_CONFIG = config["clonal"]
CLONAL_TABLES = {
    "variants": "results/clonal/variant_clusters.tsv",
    "prevalence": "results/clonal/cluster_prevalence.tsv",
    "tree": "results/clonal/tree.tsv",
    "events": "results/clonal/events.tsv",
    "ccf": "results/clonal/ccf.tsv",
    "selection": "results/clonal/model_selection.tsv",
}
# The copy-number table (copy_number: table) is resolved against the config's folder.
CLONAL_CN_TABLE = (
    str(_config_base() / CLONAL_CONFIG["copy_number_table"])
    if CLONAL_CONFIG["copy_number_table"]
    else None
)
CLONAL_USES_SEGMENTS = CLONAL_CONFIG["copy_number"] == "segments"
CLONAL_CNS = sample_paths("results/cnv/{patient}/{sample}.cns", PLASMA)
CLONAL_TF = "results/cnv/tumour_fraction.tsv"

ALL_TARGETS.extend(
    [CLONAL_TABLES[k] for k in ("variants", "prevalence", "tree", "events", "ccf")]
)


def _clonal_producible(path):
    """True when a rule of another stage writes ``path`` (a run without the copy-number stage
    clusters with the SNV tumour fraction and copy number 2; the log and the tree notes say so)."""
    return any(
        r.is_producer(path) for r in workflow.rules if not r.name.startswith("clonal_")
    )


def clonal_inputs(wildcards):
    inputs = {
        "tracked": "results/variants/tracked_variants.tsv",
        "snv_tf": "results/variants/snv_tumour_fraction.tsv",
        "clinical": config["clinical"],
    }
    if _clonal_producible(CLONAL_TF):
        inputs["tumour_fraction"] = CLONAL_TF
    if CLONAL_USES_SEGMENTS and CLONAL_CNS and _clonal_producible(CLONAL_CNS[0]):
        inputs["cns"] = CLONAL_CNS
    if CLONAL_CN_TABLE:
        inputs["copy_number_table"] = CLONAL_CN_TABLE
    return inputs


rule clonal_clones:
    input:
        unpack(clonal_inputs),
    output:
        **CLONAL_TABLES,
    params:
        cns_samples=list(PLASMA["sample_id"]),
        settings={**CLONAL_CONFIG, "copy_number_table": CLONAL_CN_TABLE},
    log:
        "logs/clonal/clones.log",
    benchmark:
        "benchmarks/clonal/clones.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/clonal_clones.py"
