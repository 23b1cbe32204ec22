"""Rule variants_discover: candidates of one patient from its pooled plasma draws."""
import logging

from plasmatrack.variants.pipeline import discover_patient

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
for warning in discover_patient(
    sm.wildcards.patient,
    dict(zip(sm.params.plasma_ids, sm.input.bams)),
    sm.input.fasta,
    sm.input.regions,
    sm.input.hotspots or None,
    sm.params.known,
    dict(sm.params.settings),
    sm.output.candidates,
    identity=sm.input.identity or None,  # identity_samples.tsv when identity runs
):
    logging.warning(warning)
