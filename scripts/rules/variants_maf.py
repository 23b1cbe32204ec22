"""Rule variants_maf: the cohort MAF of somatic variants detected in plasma."""
from plasmatrack.variants.maf import MafSettings
from plasmatrack.variants.pipeline import write_cohort_maf

sm = snakemake  # noqa: F821
write_cohort_maf(sm.input.tracked, sm.output.maf, MafSettings.from_config(sm.params.settings))
