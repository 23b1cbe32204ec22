"""Rule qc_identity: pairwise relatedness, identity verdicts and contamination of the cohort."""
import logging

import pandas as pd

from plasmatrack.qc.identity import IdentitySettings
from plasmatrack.qc.identity_pipeline import IdentityPaths, run_identity

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
sheet = pd.DataFrame({"sample_id": sm.params.sample_ids, "patient_id": sm.params.patient_ids,
                      "sample_type": sm.params.sample_types})
paths = IdentityPaths(list(sm.input.fingerprints), sm.input.sites, sm.output.identity,
                      sm.output.samples)
_, samples = run_identity(sheet, paths, IdentitySettings.from_config(sm.params.settings))
logging.info("identity failed: %s", ", ".join(samples.loc[~samples["identity_ok"], "sample_id"])
             or "none")
