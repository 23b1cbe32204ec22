"""Rule mrd_sites: the variants each patient is tested with (tumour-informed or plasma-informed)."""
from plasmatrack.mrd.pipeline import run_mrd_sites

sm = snakemake  # noqa: F821
run_mrd_sites(
    sm.output.sites,
    tumour_variants=sm.input.tumour_variants or None,
    tracked=sm.input.tracked or None,
    reference=sm.input.fasta,
    ccf=sm.input.ccf or None,
    identity=sm.input.identity or None,  # identity_samples.tsv when identity runs
)
