"""Copy number, tumour fraction and gene-level calls for plasma samples (see docs/cnv.md).

Modules, one concern each:

- ``bins``: target, antitarget and fixed-size bins from the panel, the reference and an access mask.
- ``coverage``: per-bin coverage from a BAM (optionally fragment-size selected) or Picard tables.
- ``reference``: the panel of normals (pooled CNVkit reference, leave-one-out, flat fallback).
- ``segment``: CNVkit fix + segmentation and SEG export.
- ``tumour_fraction``: our HMM tumour-fraction estimator (no CNVkit dependency).
- ``wig``: HMMcopy/ichorCNA WIG reading and read-count correction for the WIG path.
- ``genes``: gene-level statistics, plasma and tumour copy number, amplification calls.
- ``baf``: tumour fraction from allelic imbalance at heterozygous germline SNPs.
- ``combine``: one tumour fraction per draw from copy number, SNVs and BAF, with its p-value.
- ``call``: one sample's reference choice, fix, segments and gene statistics, on CNVkit arrays.
- ``summary``: the cohort tables: detection calibrated on the tumour-free samples, TF, genes.
- ``pipeline``: the per-sample and cohort steps the rules call (read inputs, compute, write).
- ``combine_io``: the combined tumour fraction's step (rule ``cnv_combine``, ``cnv-combine``).
- ``standalone``, ``wig_standalone``: ``plasmatrack cnv`` and ``plasmatrack tumour-fraction``.
"""

# The segmentation methods, here rather than in ``segment`` so that the CLI can offer them without
# importing numpy/pandas. haar is pure Python: the same segments on every machine (docs/cnv.md).
SEGMENT_METHODS = ("haar", "cbs", "hmm", "hmm-tumor", "none")
DEFAULT_SEGMENT_METHOD = "haar"
