"""Rule cnv_coverage: CNVkit target/antitarget coverage of one BAM (optional size selection)."""
import logging

from plasmatrack.cnv.coverage import sample_coverage
from plasmatrack.cnv.fragments import sample_fragment_lengths

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
size = sm.params.size_selection
sample_coverage(
    sm.input.bam, sm.input.targets, sm.input.antitargets, sm.output.target,
    sm.output.antitarget, sample_id=sm.wildcards.sample, min_mapq=sm.params.min_mapq,
    size_range=tuple(size) if size else None,
)
sample_fragment_lengths(
    sm.input.bam, sm.input.targets, sm.input.antitargets, sm.output.lengths,
    min_mapq=sm.params.min_mapq,
)
