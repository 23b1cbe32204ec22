"""Rule qc_sample: one pass over a sample's BAM -> <sample>.qc.tsv and .fragment_lengths.tsv."""
import logging

import pandas as pd

from plasmatrack.qc import run_sample_qc

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
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
)
logging.info("qc_pass=%s %s", row["qc_pass"], row["qc_reason"])
