"""Rule cnv_reference: the pooled panel of normals (flat, with a warning, when there is none);
members that failed sample identity or are contaminated are left out (reference_pool.tsv)."""
import logging

from plasmatrack.cnv.call import PoolMember
from plasmatrack.cnv.pipeline import make_reference
from plasmatrack.cnv.reference_pool import make_pool_reference

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
pool = make_pool_reference(
    tuple(PoolMember(*m) for m in zip(sm.params.pool_ids, sm.input.targets, sm.input.antitargets)),
    sm.input.identity or None, sm.output.pool,
)
make_reference(
    [m.target_cnn for m in pool], [m.antitarget_cnn for m in pool], sm.input.fasta,
    sm.input.target_bins, sm.input.antitarget_bins, sm.output.reference,
    pool_corrections=bool(sm.params.pool_corrections), shrink=bool(sm.params.shrink),
)
