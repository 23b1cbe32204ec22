"""The cohort stage (``workflow/rules/cohort.smk``): HER2 ctDNA burden per patient at baseline,
its on-treatment dynamics, and the survival analyses that link it to outcome.

Modules, as the stage runs: ``settings`` (the ``cohort`` config section), ``columns`` (the
published tables' columns), ``draws`` (stage tables in, HER2 metrics of every plasma draw),
``burden`` (the baseline draw per patient), ``dynamics`` (baseline vs first on-treatment draw),
``outcome`` (burden groups, survival, landmark and response analyses, on
:mod:`plasmatrack.stats.survival`), ``pipeline`` (one entry per rule: ``run_cohort_burden``,
``run_cohort_survival``).

Definitions (see docs/cohort.md):

- plasma copy number PCN of ERBB2 (copies per cell-equivalent of cfDNA, 2 = normal);
- excess copies PCN - 2 = TF * (CN_tumour - 2) for an amplified tumour (diploid-genome
  equivalents);
- TF-adjusted tumour copy number 2 + (PCN - 2) / TF, not estimable (NA) when TF < a floor;
- ERBB2 mutant VAF: the largest VAF of a detected somatic, non-synonymous ERBB2 variant of the
  patient in that draw (0 when it tested not detected or the patient has no somatic ERBB2
  variant; NA when undetermined or when no variant data exist);
- primary metric ``altered_copies`` = max(PCN - 2, 0) + 2 * VAF_mut: ERBB2-altered copies per
  diploid genome equivalent in plasma (amplified: excess copies; mutant: a heterozygous
  mutation in a fraction f of the cells gives VAF ~ f/2, so 2 * VAF ~ mutant copies per diploid
  genome).

Days are whole days from treatment start (negative before); months = days / 30.4375."""
