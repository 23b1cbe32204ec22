"""Rule import_bam: check a user BAM against the reference, then link it into results/align/."""
from plasmatrack.bamcheck import import_bam

sm = snakemake  # noqa: F821
import_bam(sm.input.bam, sm.input.fai, sm.output.bam)
