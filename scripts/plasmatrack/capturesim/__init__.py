"""capturesim: an independent capture-panel cfDNA cohort simulator (the "generative regime").

It writes a cohort folder (reference, panel, genes, sheets, config, gzipped paired FASTQs and
truth tables) from a generative model written without reading the project's own simulator, so
that the pipeline's estimates can be checked on data it was not tuned to. The model and its
truth tables: docs/capturesim.md."""

from .cohort import Cohort, write_cohort

__all__ = ["Cohort", "write_cohort"]
