"""Rule variants_sites: the cohort's annotated site list from every patient's candidates."""
from plasmatrack.variants.pipeline import build_sites

sm = snakemake  # noqa: F821
build_sites(
    dict(zip(sm.params.patients, sm.input.candidates)),
    sm.input.fasta,
    sm.input.genes,
    sm.input.exons or None,
    sm.input.hotspots or None,
    sm.output.sites,
    sm.input.annotation or None,
)
