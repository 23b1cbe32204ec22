"""Rule cnv_reference: the pooled panel of normals (flat, with a warning, when there is none)."""
import logging

from plasmatrack.cnv.pipeline import make_reference

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
make_reference(
    list(sm.input.targets), list(sm.input.antitargets), sm.input.fasta,
    sm.input.target_bins, sm.input.antitarget_bins, sm.output.reference,
    pool_corrections=bool(sm.params.pool_corrections), shrink=bool(sm.params.shrink),
)
