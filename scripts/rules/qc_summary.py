"""Rule qc_summary: stack per-sample QC rows into qc_summary.tsv plus MultiQC custom content."""
from pathlib import Path

from plasmatrack.qc import summarise

sm = snakemake  # noqa: F821
summarise(list(sm.input.qc), sm.output.summary, fragment_tsvs=list(sm.input.fragments),
          multiqc_dir=Path(sm.output.multiqc_stats).parent,
          identity_tsv=sm.input.identity or None,
          reference_pool=list(sm.params.reference_pool))
