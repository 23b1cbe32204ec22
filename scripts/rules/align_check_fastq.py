"""Rule check_fastq: validate a FASTQ pair before alignment; write its read counts."""
from plasmatrack.fastqcheck import check_pair
from plasmatrack.io import atomic_open

sm = snakemake  # noqa: F821
counts = check_pair(sm.input.r1, sm.input.r2)
with atomic_open(sm.output.counts) as out:
    out.write(f"sample_id\treads_1\treads_2\n{sm.wildcards.sample}\t{counts.reads_1}\t{counts.reads_2}\n")
