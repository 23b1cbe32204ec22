"""The demo cohort simulator (``plasmatrack simulate``): a synthetic reference with the genes of
the project, serial plasma cfDNA and buffy-coat normal reads of patients with known tumour
fractions, copy-number profiles, clones and variants, clinical outcomes linked to HER2 burden, and
the truth tables every later stage is judged against. See docs/simulator.md."""

from .cohort import DEFAULT_READ_PAIRS, SimulateSettings, simulate_cohort

__all__ = ["DEFAULT_READ_PAIRS", "SimulateSettings", "simulate_cohort"]
