"""Rule qc_fingerprint: one sample's fragment counts at the fingerprint sites."""
from plasmatrack.qc.identity import IdentitySettings
from plasmatrack.qc.identity_pipeline import run_fingerprint

sm = snakemake  # noqa: F821
run_fingerprint(sm.input.bam, sm.input.sites, sm.output.fingerprint,
                IdentitySettings.from_config(sm.params.settings))
