# HTML reports: one page per patient and one for the cohort, from the published stage tables.
# Pages, figures and options: docs/report.md; logic: scripts/plasmatrack/report/.
from plasmatrack.report.sources import TABLES as REPORT_TABLES  # noqa: E402

REPORT_COHORT = "results/reports/cohort.html"
REPORT_PATIENT = "results/reports/patients/{patient}.html"

ALL_TARGETS.append(REPORT_COHORT)
ALL_TARGETS.extend(REPORT_PATIENT.format(patient=p) for p in PATIENTS)


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
