"""The published tables: each one's path, the columns its readers rely on, and what it holds.

Every stage reads only these tables of the stages before it (docs/architecture.md, "Table
registry"). The rule files take their output and input paths from here, the reports take their
required columns from here, and ``tests/unit/test_tables.py`` checks that no rule or module
writes one of these paths out again and that each producer writes the required columns.

Paths are relative to the run directory; per-sample tables have ``{patient}`` and ``{sample}``
placeholders (``tables.CNR.format(patient="P01", sample="P01_D1")``). ``required`` lists the
columns consumers may rely on (the union of what they read), in the producer's order; producers
write more columns and may add columns, never remove or rename these.
"""

from __future__ import annotations

from dataclasses import dataclass

RESULTS = "results"


@dataclass(frozen=True)
class Table:
    """One published table."""

    name: str
    path: str
    required: tuple[str, ...]
    description: str

    def format(self, patient: str | None = None, sample: str | None = None) -> str:
        """The path with the placeholders filled (the path itself for a cohort table)."""
        if not self.per_sample:
            return self.path
        return self.path.format(patient=patient, sample=sample)

    @property
    def per_sample(self) -> bool:
        return "{sample}" in self.path

    @property
    def in_results(self) -> str:
        """The path relative to the results folder (``cnv/tumour_fraction.tsv``)."""
        return self.path.removeprefix(f"{RESULTS}/")


_SAMPLE_KEYS = ("sample_id", "patient_id")
_DRAW_KEYS = ("sample_id", "patient_id", "timepoint_days")
_VARIANT_KEYS = ("chrom", "pos", "ref", "alt")
_SEGMENT_KEYS = ("chromosome", "start", "end")

# -- qc --------------------------------------------------------------------------------------
QC_SAMPLE = Table("qc_sample", "results/qc/{patient}/{sample}.qc.tsv", _SAMPLE_KEYS,
                  "QC metrics and pass/fail of one sample (one row)")
FRAGMENT_LENGTHS = Table("fragment_lengths", "results/qc/{patient}/{sample}.fragment_lengths.tsv",
                         ("length", "count"), "fragment-length histogram of one sample")
QC_SUMMARY = Table("qc_summary", "results/qc/qc_summary.tsv", _SAMPLE_KEYS,
                   "QC metrics of every sample (the rows of the per-sample QC tables)")
QC_MULTIQC = Table("qc_multiqc", "results/qc/multiqc/plasmatrack_qc_mqc.tsv", (),
                   "QC metrics as a MultiQC custom-content table")
# sample identity (issue 22; plasmatrack.qc.identity, docs/qc.md)
FINGERPRINT_SITES = Table("fingerprint_sites", "results/qc/fingerprint_sites.tsv",
                          ("chrom", "pos", "ref", "alt"),
                          "SNP sites every sample is genotyped at for identity")
FINGERPRINT = Table("fingerprint", "results/qc/{patient}/{sample}.fingerprint.tsv",
                    ("chrom", "pos", "ref", "alt", "ref_count", "alt_count", "other_count",
                     "depth"), "fragment counts of one sample at the fingerprint sites")
IDENTITY = Table("identity", "results/qc/identity.tsv",
                 ("sample_a", "sample_b", "relatedness", "informative_sites",
                  "same_patient_expected", "verdict"),
                 "relatedness of sample pairs and whether it agrees with the sample sheet")
IDENTITY_SAMPLES = Table("identity_samples", "results/qc/identity_samples.tsv",
                         ("sample_id", "patient_id", "identity_ok", "identity_status",
                          "best_match", "contamination", "identity_reason"),
                         "identity verdict and contamination estimate of each sample")

# -- umi (issue 20; its per-sample and cohort QC tables live in the qc folder) ---------------
_UMI = ("reads", "families", "families_ge2", "families_ge3", "molecules", "duplex_molecules",
        "duplex_yield", "error_rate_raw", "error_rate_single", "error_rate_duplex")
UMI_METRICS = Table("umi_metrics", "results/qc/{patient}/{sample}.umi.tsv", (*_SAMPLE_KEYS, *_UMI),
                    "UMI families, molecules, duplex yield and error rates of one sample (one row)")
UMI_FAMILY_SIZES = Table("umi_family_sizes", "results/qc/{patient}/{sample}.umi_family_sizes.tsv",
                         ("family_size", "families"),
                         "histogram of strand-family sizes (reads per family) of one sample")
UMI_SUMMARY = Table("umi_summary", "results/qc/umi_summary.tsv", (*_SAMPLE_KEYS, *_UMI),
                    "UMI metrics of every sample (the rows of the per-sample UMI tables)")

# -- cnv -------------------------------------------------------------------------------------
CNR = Table("cnr", "results/cnv/{patient}/{sample}.cnr", (*_SEGMENT_KEYS, "log2"),
            "CNVkit bin log2 ratios of one sample")
CNS = Table("cns", "results/cnv/{patient}/{sample}.cns", (*_SEGMENT_KEYS, "log2"),
            "CNVkit segments of one sample")
SEG = Table("seg", "results/cnv/{patient}/{sample}.seg", (),
            "segments of one sample in the SEG format (IGV), as CNVkit's export seg")
HMM_STATES = Table("hmm_states", "results/cnv/{patient}/{sample}.hmm_states.tsv",
                   (*_SEGMENT_KEYS, "state", "amp"), "HMM copy-number state of each bin of one sample")
_TF = (*_DRAW_KEYS, "tumour_fraction", "tf_lower", "tf_upper", "tf_detected")
TUMOUR_FRACTION_CN = Table("tumour_fraction_cn", "results/cnv/tumour_fraction_cn.tsv", _TF,
                           "tumour fraction of each sample from copy number alone")
TUMOUR_FRACTION = Table("tumour_fraction", "results/cnv/tumour_fraction.tsv", _TF,
                        "published tumour fraction: copy number combined with SNV (and BAF) evidence")
TUMOUR_FRACTION_BAF = Table(
    "tumour_fraction_baf", "results/cnv/tumour_fraction_baf.tsv",
    (*_DRAW_KEYS, "tumour_fraction_baf", "tf_baf_lower", "tf_baf_upper"),
    "tumour fraction of each plasma sample from B-allele fractions")
_GENE = (*_DRAW_KEYS, "gene", "plasma_copy_number")
GENES = Table("genes", "results/cnv/genes.tsv", _GENE,
              "copy number of each gene of the genes BED in each sample")
ERBB2 = Table("erbb2", "results/cnv/erbb2.tsv",
              (*_GENE, "tumour_copy_number", "tumour_copy_number_lower",
               "tumour_copy_number_upper", "amplified"),
              "copy number and amplification call of the HER2 gene in each sample")
CNV_DETECTION = Table("cnv_detection", "results/cnv/detection.tsv",
                      ("fit_group", "min_llr", "min_altered_fraction"),
                      "detection thresholds of the tumour fraction, as calibrated")
# issue 22: which panel-of-normals members the reference uses (identity leaves some out)
CNV_REFERENCE_POOL = Table("cnv_reference_pool", "results/cnv/reference_pool.tsv",
                           ("sample_id", "in_reference", "note"),
                           "the copy-number reference's configured members, whether each is in "
                           "it, and why not")

# -- variants --------------------------------------------------------------------------------
VARIANT_SITES = Table("variant_sites", "results/variants/sites.tsv",
                      (*_VARIANT_KEYS, "variant_type", "gene"), "the cohort's tracked sites")
TRACKED_VARIANTS = Table(
    "tracked_variants", "results/variants/tracked_variants.tsv",
    ("patient_id", "sample_id", "sample_type", "timepoint_days", *_VARIANT_KEYS, "gene",
     "ref_count", "alt_count", "depth", "vaf", "vaf_lower", "vaf_upper", "status", "category",
     "filters"),
    "every tracked site in every sample of its patient, called and classified")
SNV_TUMOUR_FRACTION = Table(
    "snv_tumour_fraction", "results/variants/snv_tumour_fraction.tsv",
    (*_DRAW_KEYS, "tumour_fraction_snv", "tf_snv_lower", "tf_snv_upper", "n_variants"),
    "tumour fraction of each sample from somatic variant allele fractions")
# issue 24: the cohort MAF (GDC MAF columns; variants/maf.py), first line "#version 2.4".
COHORT_MAF = Table(
    "cohort_maf", "results/variants/cohort.maf",
    ("Hugo_Symbol", "Chromosome", "Start_Position", "End_Position", "Variant_Classification",
     "Variant_Type", "Reference_Allele", "Tumor_Seq_Allele2", "Tumor_Sample_Barcode", "HGVSc",
     "HGVSp", "HGVSp_Short", "Transcript_ID", "t_ref_count", "t_alt_count"),
    "somatic variants detected in plasma, one row per variant and draw, for cBioPortal")
VARIANT_BACKGROUND = Table("variant_background", "results/variants/background.tsv",
                           (*_VARIANT_KEYS, "bg_alpha", "bg_beta"),
                           "per-site error-rate model from the control samples")
DETECTION_THRESHOLD = Table("variant_detection_threshold",
                            "results/variants/detection_threshold.tsv", ("threshold",),
                            "p-value threshold of a variant call")
CONTROL_OBSERVATIONS = Table("control_observations", "results/variants/control_observations.tsv",
                             (*_VARIANT_KEYS, "sample_id", "alt_count", "depth"),
                             "the control samples' counts the background model was fitted on")

# -- clonal ----------------------------------------------------------------------------------
VARIANT_CLUSTERS = Table("variant_clusters", "results/clonal/variant_clusters.tsv",
                         ("patient_id", *_VARIANT_KEYS, "gene", "cluster_id"),
                         "the cluster of each somatic variant")
CLUSTER_PREVALENCE = Table(
    "cluster_prevalence", "results/clonal/cluster_prevalence.tsv",
    ("patient_id", "cluster_id", "sample_id", "timepoint_days", "prevalence",
     "prevalence_lower", "prevalence_upper"),
    "cancer cell fraction of each cluster in each plasma sample")
TREE = Table("tree", "results/clonal/tree.tsv", ("patient_id", "cluster_id", "parent_cluster_id"),
             "each patient's clone tree (parent of each cluster)")
EVENTS = Table("events", "results/clonal/events.tsv", ("patient_id",),
               "clone events (emerging, expanding, ...) between draws")
CCF = Table("ccf", "results/clonal/ccf.tsv", ("patient_id", "sample_id", *_VARIANT_KEYS, "ccf"),
            "cancer cell fraction of each somatic variant in each plasma sample")
MODEL_SELECTION = Table("model_selection", "results/clonal/model_selection.tsv",
                        ("patient_id", "k", "chosen"), "the number of clusters tried and chosen")

# -- mrd -------------------------------------------------------------------------------------
MRD_SITES = Table("mrd_sites", "results/mrd/sites.tsv",
                  ("patient_id", *_VARIANT_KEYS, "weight", "found_in"),
                  "the variants each patient's draws are tested with for residual disease")
MRD_CALLS = Table(
    "mrd_calls", "results/mrd/mrd_calls.tsv",
    (*_DRAW_KEYS, "n_variants", "informative_molecules", "mutant_molecules",
     "background_expected", "tumour_fraction", "tf_lower", "tf_upper", "p_value", "lod95",
     "status", "note"),
    "residual disease of each plasma draw: pooled test of the patient's variants, with LoD")

# -- cohort ----------------------------------------------------------------------------------
HER2_BURDEN = Table("her2_burden", "results/cohort/her2_burden.tsv", ("patient_id", "her2_burden"),
                    "baseline HER2 burden and its group of each patient")
DYNAMICS = Table("dynamics", "results/cohort/dynamics.tsv", ("patient_id",),
                 "on-treatment change of tumour fraction and HER2 burden of each patient")
DRAW_METRICS = Table("draw_metrics", "results/cohort/draw_metrics.tsv",
                     ("patient_id", "sample_id", "timepoint_days"),
                     "the burden metrics of every draw")
SURVIVAL = Table("survival", "results/cohort/survival.tsv",
                 ("analysis", "endpoint", "n", "events", "p_value", "hazard_ratio", "hr_lower",
                  "hr_upper"), "one row per survival analysis")
KM_CURVES = Table("km_curves", "results/cohort/km_curves.tsv",
                  ("analysis", "group", "time", "survival", "ci_lower", "ci_upper", "at_risk"),
                  "Kaplan-Meier curves of every analysis")
KM_AT_RISK = Table("km_at_risk", "results/cohort/km_at_risk.tsv",
                   ("analysis", "endpoint", "group", "time", "at_risk"),
                   "numbers at risk under the Kaplan-Meier plots")
COX_TERMS = Table("cox_terms", "results/cohort/cox_terms.tsv",
                  ("analysis", "endpoint", "term", "hazard_ratio", "hr_lower", "hr_upper",
                   "p_value"), "every term of every Cox model")
MAXSTAT_CUTS = Table("maxstat_cuts", "results/cohort/maxstat_cuts.tsv",
                     ("analysis", "endpoint", "cutpoint", "statistic", "selected"),
                     "the statistic of every cut point the maximally selected test tried")

ALL: tuple[Table, ...] = tuple(v for v in globals().values() if isinstance(v, Table))
BY_NAME: dict[str, Table] = {t.name: t for t in ALL}
