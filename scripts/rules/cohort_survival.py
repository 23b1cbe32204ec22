"""Rule cohort_survival: KM/log-rank, cut-points, Cox, landmark and response analyses."""
import logging
from pathlib import Path

from plasmatrack.burden import CohortSettings, run_cohort_survival

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(levelname)s: %(message)s")
paths = run_cohort_survival(sm.input.burden, sm.input.dynamics,
                            Path(sm.output.survival).parent,
                            CohortSettings.from_config(sm.params.settings))
logging.info("wrote %s", ", ".join(sorted(paths.values())))
