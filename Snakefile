# plasmatrack: serial plasma cfDNA sequencing -> tumour fraction, ERBB2, tracking, clones, survival.
# Declarations only; the logic lives in scripts/plasmatrack. See README.md and config/README.md.
from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    sample=ID_PATTERN,
    patient=ID_PATTERN,


include: "workflow/rules/align.smk"
include: "workflow/rules/umi.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/cnv.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/clonal.smk"
include: "workflow/rules/mrd.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets,
    default_target: True
