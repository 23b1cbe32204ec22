"""Rule cnv_hmm: tumour-fraction HMM for one patient (draws jointly, normal on their path)."""
import logging

from plasmatrack.cnv.pipeline import fit_patient
from plasmatrack.cnv.tumour_fraction import HmmSettings

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
fits = fit_patient(
    list(sm.params.sample_ids), list(sm.params.sample_types), list(sm.input.cnrs),
    list(sm.input.infos), sm.output.fits, sm.output.states,
    hmm=HmmSettings.from_config(dict(sm.params.hmm)), mode=sm.params.mode,
    method=f"hmm:{sm.params.design}", length_paths=list(sm.input.lengths) or None,
)
logging.info("fits:\n%s", fits.to_string())
