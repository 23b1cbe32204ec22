"""Rule cohort_survival: KM/log-rank, cut-points, Cox, landmark and response analyses."""
import logging

from plasmatrack.cohort.pipeline import run_cohort_survival
from plasmatrack.cohort.settings import CohortSettings
from plasmatrack.stats.survival import SurvivalPaths

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(levelname)s: %(message)s")
paths = run_cohort_survival(
    sm.input.burden, sm.input.dynamics,
    SurvivalPaths(survival=sm.output.survival, km_curves=sm.output.km_curves,
                  km_at_risk=sm.output.km_at_risk, cox_terms=sm.output.cox_terms,
                  maxstat_cuts=sm.output.maxstat_cuts),
    CohortSettings.from_config(sm.params.settings),
)
logging.info("wrote %s", ", ".join(sorted(paths.values())))
