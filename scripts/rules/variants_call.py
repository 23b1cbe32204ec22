"""Rule variants_call: status, category, SNV tumour fraction and VCF of one patient."""
from plasmatrack.variants.pipeline import call_patient

sm = snakemake  # noqa: F821
call_patient(
    sm.wildcards.patient,
    sm.input.sites,
    dict(zip(sm.params.samples, sm.input.counts)),
    dict(sm.params.meta),
    sm.input.background,
    sm.input.threshold,
    sm.input.controls,
    dict(sm.params.settings),
    sm.input.fasta,
    sm.output.tracked,
    sm.output.snv_tf,
    sm.output.vcf,
)
