"""Columns of the cohort stage's published tables, in their order (one constant per table).

The survival tables' columns (survival.tsv, km_curves.tsv, ...) are those of
:mod:`plasmatrack.stats.survival`, which ``plasmatrack survival`` writes as well."""

# her2_burden.tsv: the columns fixed by issue 6 (through her2_burden_group), then ours; the
# clinical sheet's columns follow.
BURDEN_COLUMNS = [
    "patient_id", "baseline_sample_id", "timepoint_days", "tumour_fraction",
    "erbb2_plasma_copy_number", "erbb2_excess_copies", "erbb2_tumour_copy_number",
    "erbb2_amplified", "erbb2_mutation_vaf", "her2_burden", "her2_burden_group",
    "her2_burden_metric", "her2_burden_cutpoint", "tf_lower", "tf_upper", "tf_detected",
    "erbb2_mutation", "ctdna_detected", "n_draws", "in_survival", "note",
]
# draw_metrics.tsv
DRAW_METRICS_COLUMNS = [
    "patient_id", "sample_id", "timepoint_days", "tumour_fraction", "tf_lower", "tf_upper",
    "tf_detected", "erbb2_plasma_copy_number", "erbb2_excess_copies",
    "erbb2_tumour_copy_number", "erbb2_amplified", "erbb2_mutation_vaf", "erbb2_mutation",
    "n_somatic_detected", "ctdna_detected", "her2_burden", "note",
]
# dynamics.tsv
DYNAMICS_COLUMNS = [
    "patient_id", "baseline_sample_id", "baseline_day", "on_treatment_sample_id",
    "on_treatment_day", "tf_baseline", "tf_on_treatment", "tf_ratio", "tf_log2_fold",
    "her2_burden_baseline", "her2_burden_on_treatment", "her2_burden_ratio",
    "her2_burden_log2_fold", "ctdna_detected_baseline", "ctdna_detected_on_treatment",
    "ctdna_clearance", "molecular_response", "molecular_responder", "note",
]

# Columns the cohort stage needs in the earlier stages' tables it reads.
TF_INPUT_COLUMNS = ("sample_id", "patient_id", "tumour_fraction")
ERBB2_INPUT_COLUMNS = ("sample_id", "patient_id", "plasma_copy_number")
VARIANT_INPUT_COLUMNS = ("sample_id", "patient_id", "gene", "vaf", "status", "category")
