"""Rule reference_fasta: place the user's FASTA under results/reference/ (never index beside it)."""
from plasmatrack.reference import link_or_copy

link_or_copy(snakemake.input.fasta, snakemake.output.fasta)  # noqa: F821
