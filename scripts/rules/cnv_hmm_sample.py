"""Rule cnv_hmm_sample: one sample's fit row and state path from its patient's HMM tables."""
from plasmatrack.cnv.pipeline import split_patient

sm = snakemake  # noqa: F821
split_patient(sm.input.fits, sm.input.states, sm.wildcards.sample, sm.output.fit,
              sm.output.states)
