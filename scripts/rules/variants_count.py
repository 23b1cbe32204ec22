"""Rule variants_count: fragment counts of one sample at its sites (all sites for controls)."""
from plasmatrack.variants.pipeline import count_sample

sm = snakemake  # noqa: F821
count_sample(
    sm.input.bam,
    sm.input.sites,
    sm.wildcards.patient,
    sm.params.scope == "all",
    sm.input.fasta,
    dict(sm.params.settings),
    sm.output.counts,
)
