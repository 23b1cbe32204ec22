# HER2 burden at baseline, on-treatment dynamics and survival (TTF, OS) for the cohort.
# Definitions and statistics: docs/cohort.md; logic: scripts/plasmatrack/cohort/, stats/.
COHORT_BURDEN = tables.HER2_BURDEN.path
COHORT_DYNAMICS = tables.DYNAMICS.path
COHORT_DRAWS = tables.DRAW_METRICS.path
COHORT_SURVIVAL = {
    t.name: t.path
    for t in (tables.SURVIVAL, tables.KM_CURVES, tables.KM_AT_RISK, tables.COX_TERMS,
              tables.MAXSTAT_CUTS)
}

ALL_TARGETS.extend([COHORT_BURDEN, COHORT_DYNAMICS, COHORT_DRAWS, *COHORT_SURVIVAL.values()])


rule cohort_burden:
    input:
        tumour_fraction=tables.TUMOUR_FRACTION.path,
        erbb2=tables.ERBB2.path,
        variants=tables.TRACKED_VARIANTS.path,
        mrd=tables.MRD_CALLS.path,
        samples=config["samples"],
        clinical=config["clinical"],
        # draws failing sample identity are left out (docs/qc.md); only when identity runs
        identity=tables.IDENTITY_SAMPLES.path if IDENTITY_ON else [],
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
