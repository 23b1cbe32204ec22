"""Residual disease per draw: a pooled, tumour-informed ctDNA test with a limit of detection
(issue 21; docs/mrd.md).

Modules, one concern each:
- ``settings``: ``MrdSettings`` (the config's ``mrd`` section)
- ``sites``: the variants each patient is tested with (tumour-informed TSV or plasma-informed)
- ``background``: per-site background rate from cross-patient controls, class priors
- ``model``: the shared-TF likelihood, its Monte Carlo p-value, interval and LoD95
- ``call``: outlier handling and the call of each draw (``MRD_COLUMNS``)
- ``pipeline``: the functions the Snakemake rules and the CLI call
"""
