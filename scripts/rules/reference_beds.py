"""Rule reference_beds: validate the genes (and panel) BED against the reference, write sorted copies."""
import logging

from plasmatrack.reference import prepare_beds

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO)
for warning in prepare_beds(
    sm.input.fasta,
    sm.input.genes,
    sm.params.her2_gene,
    sm.input.panel or None,
    sm.output.genes,
    sm.output.panel or None,
):
    logging.warning(warning)
