# HTML reports: one page per patient and one for the cohort, from the published stage tables.
# Pages, figures and options: docs/reports.md; logic: scripts/plasmatrack/report/.
from plasmatrack.report.sources import PER_SAMPLE as REPORT_PER_SAMPLE  # noqa: E402
from plasmatrack.report.sources import TABLES as REPORT_TABLES  # noqa: E402

REPORT_COHORT = "results/reports/cohort.html"
REPORT_PATIENT = "results/reports/patients/{patient}.html"

ALL_TARGETS.append(REPORT_COHORT)
ALL_TARGETS.extend(REPORT_PATIENT.format(patient=p) for p in PATIENTS)


def _report_producible(path):
    """True when some rule of this workflow writes ``path``. The reports take every stage table
    the workflow has, and say on the page which stages are not part of the run."""
    return any(
        r.is_producer(path) for r in workflow.rules if not r.name.startswith("report_")
    )


def _report_common_inputs():
    inputs = {
        name: f"results/{rel}"
        for name, rel in REPORT_TABLES.items()
        if _report_producible(f"results/{rel}")
    }
    inputs["samples"] = config["samples"]
    inputs["clinical"] = config["clinical"]
    inputs["genes_bed"] = GENES_BED
    return inputs


def _report_sample_files(kind, rows):
    paths = sample_paths(f"results/{REPORT_PER_SAMPLE[kind]}", rows)
    return paths if paths and _report_producible(paths[0]) else []


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
    return inputs


rule report_patient:
    input:
        unpack(report_patient_inputs),
    output:
        html=report(
            REPORT_PATIENT,
            caption="../report/patient.rst",
            category="Reports",
            subcategory="Patients",
            labels={"patient": "{patient}", "page": "patient report"},
        ),
        data=directory("results/reports/patients/{patient}_data"),
    params:
        config=config,
        truth=config["truth"],
    log:
        "logs/report/{patient}.report.log",
    benchmark:
        "benchmarks/report/{patient}.report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/report_patient.py"


rule report_cohort:
    input:
        unpack(report_cohort_inputs),
    output:
        html=report(
            REPORT_COHORT,
            caption="../report/cohort.rst",
            category="Reports",
            labels={"page": "cohort report"},
        ),
        data=directory("results/reports/cohort_data"),
    params:
        config=config,
        truth=config["truth"],
    log:
        "logs/report/cohort.report.log",
    benchmark:
        "benchmarks/report/cohort.report.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/python.yaml"
    script:
        "../../scripts/rules/report_cohort.py"
