"""Rule variants_background: per-site background from controls, blacklist, threshold."""
import logging

from plasmatrack.variants.pipeline import fit_background

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
fit_background(
    sm.input.sites,
    dict(zip(sm.params.samples, sm.params.count_files)),  # in the counts folders
    dict(sm.params.meta),
    list(sm.params.controls),
    dict(sm.params.settings),
    sm.output.background,
    sm.output.threshold,
    sm.output.controls,
    identity=sm.input.identity or None,
)
