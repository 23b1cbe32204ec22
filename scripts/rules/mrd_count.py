"""Rule mrd_count: informative and mutant molecules of one sample at the cohort's MRD sites."""
from plasmatrack.mrd.pipeline import run_mrd_count
from plasmatrack.mrd.settings import MrdSettings

sm = snakemake  # noqa: F821
run_mrd_count(sm.input.bam, sm.input.sites, sm.output.counts,
              MrdSettings.from_config(dict(sm.params.settings)),
              patient=None if sm.params.control else sm.wildcards.patient)
