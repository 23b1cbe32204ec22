"""Rule cnv_call: fix against the panel of normals (leave-one-out for its members), segment and
compute gene statistics for one sample. The pool inputs are given only to a panel member that is
normalised leave-one-out."""
import logging

from plasmatrack.cnv.pipeline import fix_and_analyse

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
pool = list(zip(sm.params.pool_ids, sm.input.pool_targets, sm.input.pool_antitargets))
info = fix_and_analyse(
    sm.wildcards.sample, sm.input.target, sm.input.antitarget, sm.input.reference, pool,
    sm.input.fasta, sm.input.target_bins, sm.input.antitarget_bins, sm.output.cnr,
    sm.output.cns, sm.output.seg, sm.output.gene_stats, sm.output.info, sm.input.genes,
    segment_method=sm.params.segment_method, segment_threshold=sm.params.segment_threshold,
    bias=sm.params.bias, pool_size=sm.params.pool_size,
    pool_corrections=bool(sm.params.pool_corrections), shrink=bool(sm.params.shrink),
)
logging.info("%s", info)
