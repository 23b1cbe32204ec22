"""Rule qc_sample: one pass over a sample's BAM -> <sample>.qc.tsv and .fragment_lengths.tsv,
and (when sample identity runs) its fingerprint at the cohort's sites -> <sample>.fingerprint.tsv."""
import logging

import pandas as pd

from plasmatrack.qc import run_sample_qc

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
fingerprint = None
if sm.input.sites:
    from plasmatrack.qc.identity import IdentitySettings
    from plasmatrack.qc.identity_pipeline import FingerprintJob

    fingerprint = FingerprintJob(sm.input.sites, sm.output.fingerprint,
                                 IdentitySettings.from_config(sm.params.identity))
# Values of the sheet row; timepoint_days is missing (NaN/NA) for normals.
sample_type = sm.params.sample_type
days = sm.params.timepoint_days
row = run_sample_qc(
    sm.input.bam,
    sm.output.qc,
    sm.output.fragments,
    sample_id=sm.wildcards.sample,
    patient_id=sm.wildcards.patient,
    sample_type=str(sample_type),
    timepoint_days=None if pd.isna(days) else int(days),
    panel=sm.input.panel or None,
    thresholds=dict(sm.params.thresholds),
    threads=sm.threads,
    fingerprint=fingerprint,
)
logging.info("qc_pass=%s %s", row["qc_pass"], row["qc_reason"])
