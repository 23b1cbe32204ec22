"""Rule variants_tables: the cohort's tracked_variants.tsv and snv_tumour_fraction.tsv."""
from plasmatrack.variants.pipeline import merge_tables

sm = snakemake  # noqa: F821
merge_tables(list(sm.input.tracked), list(sm.input.snv_tf), sm.output.tracked, sm.output.snv_tf)
