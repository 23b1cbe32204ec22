"""Rule umi_summary: the per-sample UMI metrics rows -> results/qc/umi_summary.tsv."""
from plasmatrack.io import read_tsv, write_tsv
from plasmatrack.umi.metrics import summarise

sm = snakemake  # noqa: F821
frames = [read_tsv(path) for path in sm.input.metrics]
write_tsv(summarise(frames), sm.output.summary)
