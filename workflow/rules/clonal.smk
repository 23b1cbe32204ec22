# Clonal evolution: somatic variants -> cancer cell fractions -> clusters of trajectories ->
# clone prevalences over time, sum-rule trees and clone events (emerging, expanding, ...).
# Methods and choices: docs/clonal.md; logic: scripts/plasmatrack/clonal/.
CLONAL_CONFIG = config["clonal"]
CLONAL_TABLES = {
    "variants": tables.VARIANT_CLUSTERS.path,
    "prevalence": tables.CLUSTER_PREVALENCE.path,
    "tree": tables.TREE.path,
    "events": tables.EVENTS.path,
    "ccf": tables.CCF.path,
    "selection": tables.MODEL_SELECTION.path,
}
CLONAL_USES_SEGMENTS = CLONAL_CONFIG["copy_number"] == "segments"
CLONAL_CNS = sample_paths(tables.CNS.path, PLASMA)
# The copy-number TF alone: the stage makes its own tumour content from it and the SNV TF
# (clonal.tumour_content, default max). The combined tumour_fraction.tsv already holds the SNV
# evidence, so taking it here would count the SNVs twice (and a draw where they read low, demo
# P01: SNVs 0.18 against copy number 0.29-0.35 at truth 0.34-0.37, pulled the trunk's CCF down).
CLONAL_TF = tables.TUMOUR_FRACTION_CN.path

ALL_TARGETS.extend(
    [CLONAL_TABLES[k] for k in ("variants", "prevalence", "tree", "events", "ccf")]
)


rule clonal_clones:
    input:
        unpack(clonal_inputs),
    output:
        **CLONAL_TABLES,
    params:
        cns_samples=list(PLASMA["sample_id"]),
        settings=CLONAL_CONFIG,
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
