# HER2 burden at baseline, on-treatment dynamics and survival (TTF, OS) for the cohort.
# Definitions and statistics: docs/cohort.md; logic: scripts/plasmatrack/cohort/, stats/.
COHORT_BURDEN = "results/cohort/her2_burden.tsv"
COHORT_DYNAMICS = "results/cohort/dynamics.tsv"
COHORT_DRAWS = "results/cohort/draw_metrics.tsv"
COHORT_SURVIVAL = {
    "survival": "results/cohort/survival.tsv",
    "km_curves": "results/cohort/km_curves.tsv",
    "km_at_risk": "results/cohort/km_at_risk.tsv",
    "cox_terms": "results/cohort/cox_terms.tsv",
    "maxstat_cuts": "results/cohort/maxstat_cuts.tsv",
}

ALL_TARGETS.extend([COHORT_BURDEN, COHORT_DYNAMICS, COHORT_DRAWS, *COHORT_SURVIVAL.values()])


rule cohort_burden:
    input:
        tumour_fraction="results/cnv/tumour_fraction.tsv",
        erbb2="results/cnv/erbb2.tsv",
        variants="results/variants/tracked_variants.tsv",
        samples=config["samples"],
        clinical=config["clinical"],
    output:
        burden=COHORT_BURDEN,
        dynamics=COHORT_DYNAMICS,
        draws=COHORT_DRAWS,
    params:
        her2_gene=config["her2_gene"],
        settings=config["cohort"],
    log:
        "logs/cohort/burden.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cohort_burden.py"


rule cohort_survival:
    input:
        burden=COHORT_BURDEN,
        dynamics=COHORT_DYNAMICS,
    output:
        **COHORT_SURVIVAL,
    params:
        settings=config["cohort"],
    log:
        "logs/cohort/survival.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/cohort_survival.py"
