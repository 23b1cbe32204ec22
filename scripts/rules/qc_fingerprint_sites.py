"""Rule qc_fingerprint_sites: the cohort's fingerprint sites (configured VCF, else discovered)."""
import logging

from plasmatrack.qc.identity import IdentitySettings
from plasmatrack.qc.identity_pipeline import run_fingerprint_sites

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
sites = run_fingerprint_sites(sm.output.sites, IdentitySettings.from_config(sm.params.settings),
                              sm.input.fasta, bams=list(sm.input.bams),
                              panel=sm.input.panel or None)
logging.info("%d fingerprint sites", len(sites))
