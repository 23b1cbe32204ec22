"""Rule variants_call: status, category, SNV tumour fraction and VCF of one patient."""
from plasmatrack.variants.pipeline import PatientCallInputs, PatientCallOutputs, call_patient

sm = snakemake  # noqa: F821
call_patient(
    sm.wildcards.patient,
    PatientCallInputs(
        sites=sm.input.sites,
        counts=dict(zip(sm.params.samples, sm.params.count_files)),  # in sm.input.counts
        sample_meta=dict(sm.params.meta),
        background=sm.input.background,
        threshold=sm.input.threshold,
        control_observations=sm.input.controls,
        reference_fasta=sm.input.fasta,
        identity=sm.input.identity or None,  # identity_samples.tsv when identity runs
    ),
    dict(sm.params.settings),
    PatientCallOutputs(tracked=sm.output.tracked, snv_tf=sm.output.snv_tf, vcf=sm.output.vcf),
)
