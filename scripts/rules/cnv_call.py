"""Rule cnv_call: fix against the panel of normals (leave-one-out for its members), segment and
compute gene statistics for one sample. The pool inputs are given only to a panel member that is
normalised leave-one-out."""
import logging

from plasmatrack.cnv.call import CallSettings, PoolMember, ReferenceInputs, SampleOutputs
from plasmatrack.cnv.pipeline import fix_and_analyse
from plasmatrack.cnv.reference_pool import read_pool_table, reference_members, usable_pool

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
# panel members that failed sample identity are in neither reference (cnv_reference)
members = read_pool_table(sm.input.pool)
pool = usable_pool(tuple(PoolMember(*member) for member in zip(
    sm.params.pool_ids, sm.input.pool_targets, sm.input.pool_antitargets)), members)
called = fix_and_analyse(
    sm.wildcards.sample, sm.input.target, sm.input.antitarget,
    ReferenceInputs(fasta=sm.input.fasta, targets_bed=sm.input.target_bins,
                    antitargets_bed=sm.input.antitarget_bins, reference_cnn=sm.input.reference,
                    pool=pool, pool_size=len(reference_members(members))),
    SampleOutputs(cnr=sm.output.cnr, cns=sm.output.cns, seg=sm.output.seg,
                  gene_stats=sm.output.gene_stats, info=sm.output.info),
    sm.input.genes,
    CallSettings(segment_method=sm.params.segment_method,
                 segment_threshold=sm.params.segment_threshold, bias=sm.params.bias,
                 pool_corrections=bool(sm.params.pool_corrections),
                 shrink=bool(sm.params.shrink)),
)
logging.info("%s", called.analysis.info)
