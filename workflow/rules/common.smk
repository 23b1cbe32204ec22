# Shared set-up for all stages (config and sheet validation, wildcard constraints, named
# input functions). All logic lives in the plasmatrack package (scripts/plasmatrack).
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from plasmatrack import tables  # noqa: E402
from plasmatrack.config import prepare_config  # noqa: E402
from plasmatrack.errors import InputError  # noqa: E402
from plasmatrack.ids import ID_PATTERN, ids_regex  # noqa: E402
from plasmatrack.sheets import load_clinical, load_samples  # noqa: E402


def _config_base():
    """Folder that relative config paths are resolved against: the last --configfile's folder."""
    files = list(workflow.overwrite_configfiles or []) or list(workflow.configfiles)
    return Path(files[-1]).resolve().parent if files else Path.cwd()


if not config:
    raise WorkflowError(
        "plasmatrack needs a config: pass --configfile (see config/README.md; "
        "`make demo` writes one for the demo cohort)"
    )
try:
    prepare_config(config, _config_base(), source="config")
    SAMPLES = load_samples(config["samples"])
    CLINICAL = load_clinical(config["clinical"], patients=set(SAMPLES["patient_id"]))
except InputError as exc:
    raise WorkflowError(f"invalid input:\n{exc}") from None
for _warning in CLINICAL.warnings:
    logger.warning(f"plasmatrack: {_warning}")

PLASMA = SAMPLES[SAMPLES["sample_type"] == "plasma"]
NORMALS = SAMPLES[SAMPLES["sample_type"] == "normal"]
PATIENTS = sorted(SAMPLES["patient_id"].unique())
PATIENT_OF = dict(zip(SAMPLES["sample_id"], SAMPLES["patient_id"]))
REF = "results/reference/genome.fa"
BWA_INDEX = [f"{REF}.{ext}" for ext in ("amb", "ann", "bwt", "pac", "sa")]
GENES_BED = "results/reference/genes.bed"
PANEL_BED = "results/reference/panel.bed" if config["panel"] else None
HOTSPOTS = config["hotspots"]
ALL_TARGETS = []

def sample_paths(pattern, samples=None):
    """Expand ``pattern`` with {patient} and {sample} for each row of ``samples``."""
    rows = SAMPLES if samples is None else samples
    return [
        pattern.format(patient=p, sample=s)
        for p, s in zip(rows["patient_id"], rows["sample_id"])
    ]


# Sheet rows and per-patient sample lists as dictionaries, built once: input functions run for
# every job, and a DataFrame filter or `lookup(query=...)` per job makes planning a
# 1,000-patient cohort minutes slower (docs/cluster.md, "Scale: planning ...").
SAMPLE_ROWS = {row["sample_id"]: row for row in SAMPLES.to_dict("records")}
PATIENT_SAMPLES = {
    patient: list(rows["sample_id"]) for patient, rows in SAMPLES.groupby("patient_id", sort=True)
}


def sample_row(wildcards):
    row = SAMPLE_ROWS.get(wildcards.sample)
    if row is None or row["patient_id"] != wildcards.patient:
        raise WorkflowError(
            f"no sample {wildcards.sample!r} of patient {wildcards.patient!r} in the sample sheet"
        )
    return row


def sample_field(column):
    """Input/params function: the sheet's ``column`` of the job's {sample}."""

    def field(wildcards):
        return SAMPLE_ROWS[wildcards.sample][column]

    return field


def patient_sample_field(column):
    """Params function: the sheet's ``column`` of every sample of the job's {patient}."""

    def field(wildcards):
        return [SAMPLE_ROWS[s][column] for s in PATIENT_SAMPLES[wildcards.patient]]

    return field


def patient_sample_files(pattern):
    """Input function: ``pattern`` ({patient}, {sample}) for every sample of the job's
    {patient}."""

    def files(wildcards):
        return [
            pattern.format(patient=wildcards.patient, sample=s)
            for s in PATIENT_SAMPLES[wildcards.patient]
        ]

    return files


def cnv_leave_one_out_ids(wildcards):
    """Params function of cnv_call: the panel's sample IDs for a member of a panel that is
    normalised leave-one-out (cnv.leave_one_out_max_pool), else none (the pooled reference)."""
    if CNV_LEAVE_ONE_OUT and wildcards.sample in CNV_POOL_IDS:
        return list(CNV_POOL["sample_id"])
    return []


def cnv_leave_one_out_files(pattern):
    """Input function of cnv_call: ``pattern`` for every panel member, for a member normalised
    leave-one-out; nothing for every other sample (n x n inputs would make planning a large
    cohort quadratic)."""

    def files(wildcards):
        return sample_paths(pattern, CNV_POOL) if cnv_leave_one_out_ids(wildcards) else []

    return files


def qc_reference_pool(wildcards):
    """Params function of qc_summary: the copy-number reference's configured members (cnv.smk,
    read when the job is planned); identity's reason says so of those it leaves out."""
    return sorted(CNV_POOL_IDS)


def sample_item(table):
    """Params function: ``table[{sample}]``."""

    def item(wildcards):
        return table[wildcards.sample]

    return item


def patient_item(table, key):
    """Input/params function: ``table[{patient}][key]`` (a dictionary look-up; Snakemake's
    ``lookup(dpath=...)`` walks the whole dictionary on every call)."""

    def item(wildcards):
        return table[wildcards.patient][key]

    return item


def fastq_pair(wildcards):
    row = sample_row(wildcards)
    return {"r1": row["fastq_1"], "r2": row["fastq_2"]}


def input_bam(wildcards):
    return sample_row(wildcards)["bam"]


def read_group(wildcards):
    """bwa -R value; bwa expands the literal \\t escapes. IDs are validated, so safe to quote."""
    return f"@RG\\tID:{wildcards.sample}\\tSM:{wildcards.sample}\\tPL:ILLUMINA"


# Cached: the answer depends only on the rules, all defined before the first input function runs,
# and each patient's report job would otherwise ask every rule about every table again.
@functools.cache
def producible(own_prefix, path):
    """True when another stage (a rule whose name does not start with ``own_prefix``) writes
    ``path``. Stages that read optional upstream tables take them only when the workflow makes them.
    Call it from input functions only (at planning time, when every rule exists)."""
    return any(
        r.is_producer(path) for r in workflow.rules if not r.name.startswith(own_prefix)
    )


# Input functions of the umi stage (umi.smk, issue 20); the tables they read are built there.
def pileup_bams(rows, index=False):
    """The BAMs (or their indexes) the variant pileups read for the samples of ``rows``."""
    table = UMI_PILEUP_BAI if index else UMI_PILEUP_BAM
    return [table[s] for s in rows["sample_id"]]


def align_fastq_pair(wildcards):
    """Input function of align: the extracted FASTQs for inline UMIs, else the sheet's."""
    if wildcards.sample in UMI_INLINE_IDS:
        return {
            k: v.format(patient=wildcards.patient, sample=wildcards.sample)
            for k, v in UMI_EXTRACTED.items()
        }
    return fastq_pair(wildcards)


# Input functions of the copy-number stage (cnv.smk).
def cnv_combine_inputs(wildcards):
    """The copy-number table, and the variants stage's tables where the workflow makes them."""
    inputs = {"cn": CNV_TABLES["tumour_fraction"]}
    snv = tables.SNV_TUMOUR_FRACTION.path
    tracked = tables.TRACKED_VARIANTS.path
    if "snv" in CNV_COMBINE_METHODS and producible("cnv_", snv):
        inputs["snv"] = snv
    if producible("cnv_", tracked):  # BAF is always reported, combined only when configured
        inputs["tracked"] = tracked
        inputs["states"] = sample_paths(tables.HMM_STATES.path, PLASMA)
    return inputs


# Input functions of the clonal stage (clonal.smk).
def clonal_inputs(wildcards):
    """Clonal stage inputs. A run without the copy-number stage clusters with the SNV tumour
    fraction and copy number 2; the log and the tree notes say so."""
    inputs = {
        "tracked": tables.TRACKED_VARIANTS.path,
        "snv_tf": tables.SNV_TUMOUR_FRACTION.path,
        "clinical": config["clinical"],
    }
    if producible("clonal_", CLONAL_TF):
        inputs["tumour_fraction"] = CLONAL_TF
    if CLONAL_USES_SEGMENTS and CLONAL_CNS and producible("clonal_", CLONAL_CNS[0]):
        inputs["cns"] = CLONAL_CNS
    if CLONAL_CONFIG["copy_number_table"]:
        inputs["copy_number_table"] = CLONAL_CONFIG["copy_number_table"]
    if IDENTITY_ON:  # draws failing sample identity are not fitted (docs/qc.md)
        inputs["identity"] = tables.IDENTITY_SAMPLES.path
    return inputs


# Input functions of the report stage (report.smk).
def _report_common_inputs():
    """Every stage table the workflow has; the pages say which stages are not part of the run."""
    paths = {name: tables.BY_NAME[name].path for name in REPORT_TABLES}
    inputs = {name: path for name, path in paths.items() if producible("report_", path)}
    inputs["samples"] = config["samples"]
    inputs["clinical"] = config["clinical"]
    inputs["genes_bed"] = GENES_BED
    return inputs


def _report_sample_files(kind, rows):
    paths = sample_paths(tables.BY_NAME[kind].path, rows)
    return paths if paths and producible("report_", paths[0]) else []


def report_patient_inputs(wildcards):
    rows = PLASMA[PLASMA["patient_id"] == wildcards.patient]
    if rows.empty:
        raise WorkflowError(f"no plasma samples of patient {wildcards.patient!r}")
    inputs = _report_common_inputs()
    for kind in ("cnr", "cns"):
        inputs[kind] = _report_sample_files(kind, rows)
    return inputs


def report_cohort_inputs(wildcards):
    inputs = _report_common_inputs()
    inputs["fragment_lengths"] = _report_sample_files("fragment_lengths", SAMPLES)
    inputs["umi_family_sizes"] = _report_sample_files("umi_family_sizes", UMI_ROWS)
    return inputs


def all_targets(wildcards):
    return ALL_TARGETS

