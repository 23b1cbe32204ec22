"""Rule variants_count: fragment counts of every sample of one patient at its sites (all sites
for controls), one file per sample in the output folder."""
from plasmatrack.variants.pipeline import count_patient

sm = snakemake  # noqa: F821
count_patient(
    dict(zip(sm.params.samples, sm.input.bams)),
    sm.input.sites,
    sm.wildcards.patient,
    set(sm.params.controls),
    sm.input.fasta,
    dict(sm.params.settings),
    sm.output.counts,
)
