"""Variant discovery and serial tracking in plasma (issue 4).

Modules, one concern each:
- ``sites``: variant-site tables (chrom, 1-based pos, ref, alt), indel normalisation/equivalence
- ``pileup``: fragment-level allele counting at sites with explicit read filters
- ``discover``: candidate discovery on a patient's pooled plasma draws
- ``background``: per-locus, per-substitution error model from controls, blacklist, threshold
- ``stats``: beta-binomial presence test, power (VAF intervals: ``plasmatrack.stats.binomial``)
- ``classify``: per-observation status and per-variant category (somatic/germline/chip/artifact)
- ``annotate``: gene, exon and protein change
- ``snv_tf``: tumour fraction from clonal somatic SNVs
- ``vcf``: per-patient VCF with per-sample FORMAT fields
- ``pipeline``: the functions the Snakemake rules and the CLI call
"""
