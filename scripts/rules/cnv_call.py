"""Rule cnv_call: fix against the panel of normals (leave-one-out for its members), segment, fit
the tumour-fraction HMM and compute gene statistics for one sample."""
import logging

from plasmatrack.cnv.pipeline import fix_and_analyse
from plasmatrack.cnv.tumour_fraction import HmmSettings

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
pool = list(zip(sm.params.pool_ids, sm.input.pool_targets, sm.input.pool_antitargets))
row = fix_and_analyse(
    sm.wildcards.sample, sm.input.target, sm.input.antitarget, sm.input.reference, pool,
    sm.input.fasta, sm.input.target_bins, sm.input.antitarget_bins, sm.output.cnr,
    sm.output.cns, sm.output.seg, sm.output.states, sm.output.fit, sm.output.gene_stats,
    sm.input.genes, hmm=HmmSettings.from_config(dict(sm.params.hmm)),
    segment_method=sm.params.segment_method, segment_threshold=sm.params.segment_threshold,
    method=f"hmm:{sm.params.design}",
)
logging.info("fit: %s", row)
