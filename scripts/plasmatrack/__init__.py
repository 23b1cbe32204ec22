"""plasmatrack: serial plasma cfDNA analysis (tumour fraction, ERBB2, tracking, clones, survival)."""

__version__ = "0.1.0"
