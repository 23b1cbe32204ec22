# Shared set-up for all stages (config and sheet validation, wildcard constraints, named
# input functions). All logic lives in the plasmatrack package (scripts/plasmatrack).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from plasmatrack.config import prepare_config  # noqa: E402
from plasmatrack.errors import InputError  # noqa: E402
from plasmatrack.ids import ID_PATTERN  # noqa: E402
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

def bam(patient, sample):
    return f"results/align/{patient}/{sample}.bam"


def sample_paths(pattern, samples=None):
    """Expand ``pattern`` with {patient} and {sample} for each row of ``samples``."""
    rows = SAMPLES if samples is None else samples
    return [
        pattern.format(patient=p, sample=s)
        for p, s in zip(rows["patient_id"], rows["sample_id"])
    ]


def sample_row(wildcards):
    row = SAMPLES[SAMPLES["sample_id"] == wildcards.sample]
    if row.empty or row.iloc[0]["patient_id"] != wildcards.patient:
        raise WorkflowError(
            f"no sample {wildcards.sample!r} of patient {wildcards.patient!r} in the sample sheet"
        )
    return row.iloc[0]


def fastq_pair(wildcards):
    row = sample_row(wildcards)
    return {"r1": row["fastq_1"], "r2": row["fastq_2"]}


def input_bam(wildcards):
    return sample_row(wildcards)["bam"]


def read_group(wildcards):
    """bwa -R value; bwa expands the literal \\t escapes. IDs are validated, so safe to quote."""
    return f"@RG\\tID:{wildcards.sample}\\tSM:{wildcards.sample}\\tPL:ILLUMINA"


def all_targets(wildcards):
    return ALL_TARGETS
