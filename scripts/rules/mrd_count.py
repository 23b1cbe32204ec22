"""Rule mrd_count: informative and mutant molecules of every sample of one patient at the
cohort's MRD sites, one file per sample in the output folder."""
from plasmatrack.mrd.pipeline import run_mrd_count_patient
from plasmatrack.mrd.settings import MrdSettings

sm = snakemake  # noqa: F821
run_mrd_count_patient(
    dict(zip(sm.params.samples, sm.input.bams)),
    sm.input.sites,
    sm.output.counts,
    MrdSettings.from_config(dict(sm.params.settings)),
    sm.wildcards.patient,
    controls=set(sm.params.controls),
)
