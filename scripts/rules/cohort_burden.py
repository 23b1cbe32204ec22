"""Rule cohort_burden: per-draw HER2 metrics, baseline burden per patient, dynamics."""
import logging

from plasmatrack.cohort.pipeline import BurdenPaths, run_cohort_burden
from plasmatrack.cohort.settings import CohortSettings

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(levelname)s: %(message)s")
tables = run_cohort_burden(
    sm.input.tumour_fraction, sm.input.erbb2, sm.input.variants, sm.input.clinical,
    sm.input.samples, sm.params.her2_gene, CohortSettings.from_config(sm.params.settings),
    BurdenPaths(burden=sm.output.burden, dynamics=sm.output.dynamics, draws=sm.output.draws),
    mrd=sm.input.mrd,
    identity=sm.input.identity or None,  # identity_samples.tsv when identity runs
)
for warning in tables.warnings:
    logging.warning(warning)
