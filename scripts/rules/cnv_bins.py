"""Rule cnv_bins: target and antitarget (or whole-genome) bins from the reference and the panel."""
import logging

from plasmatrack.cnv.coverage import make_bins

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
counts = make_bins(
    sm.input.fasta, sm.output.targets, sm.output.antitargets, sm.output.access,
    panel_bed=sm.input.panel or None, genes_bed=sm.input.genes,
    bin_size=sm.params.bin_size, antitarget_avg_size=sm.params.antitarget_avg_size,
    antitarget_min_size=sm.params.antitarget_min_size,
    target_avg_size=sm.params.target_avg_size, exclude_beds=tuple(sm.input.exclude),
)
logging.info("bins: %s", counts)
