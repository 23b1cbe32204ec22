"""Rule cohort_burden: per-draw HER2 metrics, baseline burden per patient, dynamics."""
import logging

from plasmatrack.burden import CohortSettings, build_cohort_tables, write_cohort_tables

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(levelname)s: %(message)s")
tables = build_cohort_tables(
    sm.input.tumour_fraction, sm.input.erbb2, sm.input.variants, sm.input.clinical,
    sm.input.samples, sm.params.her2_gene, CohortSettings.from_config(sm.params.settings),
)
write_cohort_tables(tables, sm.output.burden, sm.output.dynamics, sm.output.draws)
for warning in tables.warnings:
    logging.warning(warning)
