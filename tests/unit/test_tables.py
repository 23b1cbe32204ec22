"""The table registry (plasmatrack.tables) is the one place a published table's path and
columns are written down."""

import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from plasmatrack import tables
from plasmatrack.report import sources

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "scripts" / "plasmatrack"
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]
# A results path as a whole string: results/<stage>/... ending in a table's extension.
RESULTS_PATH = re.compile(r"results/[A-Za-z0-9_{}./-]+\.(tsv|cnr|cns|seg)")
# Stage-internal files of one patient (results/<stage>/{patient}/...) are not published tables
# and stay in their stage's rule file, unless the registry has them.
STAGE_INTERNAL = re.compile(r"results/[a-z]+/\{patient\}/")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every plain string literal of a Python or Snakemake file (f-strings
    and byte strings left out)."""
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type != tokenize.STRING:
            continue
        prefix = tok.string[: tok.string.index(tok.string[-1])].lower()
        if "f" in prefix or "b" in prefix:
            continue
        found.append((tok.start[0], ast.literal_eval(tok.string)))
    return found


def _path_literals(paths) -> list[str]:
    problems = []
    registered = {t.path for t in tables.ALL}
    for path in paths:
        for line, value in _string_literals(path):
            if not RESULTS_PATH.fullmatch(value):
                continue
            if value in registered or not STAGE_INTERNAL.match(value):
                problems.append(f"{path.relative_to(REPO)}:{line}: {value!r}")
    return problems


def test_rule_files_take_published_paths_from_the_registry():
    problems = _path_literals(RULE_FILES)
    assert not problems, ("write these paths as plasmatrack.tables.<TABLE>.path (a new "
                          "published table goes into the registry first):\n" + "\n".join(problems))


def test_package_writes_no_published_path_out():
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "tables.py"]
    problems = _path_literals(modules)
    assert not problems, "use plasmatrack.tables for these paths:\n" + "\n".join(problems)


def test_registry_names_and_paths_are_unique():
    names = [t.name for t in tables.ALL]
    paths = [t.path for t in tables.ALL]
    assert len(set(names)) == len(names)
    assert len(set(paths)) == len(paths)
    assert set(tables.BY_NAME) == set(names)


def test_registry_paths_follow_the_path_scheme():
    for table in tables.ALL:
        parts = table.path.split("/")
        assert parts[0] == "results", table.name
        assert table.description and table.description == table.description.strip()
        if table.per_sample:
            assert parts[2:] == ["{patient}", parts[3]] and parts[3].startswith("{sample}."), \
                table.path
        else:
            assert "{" not in table.path, table.path


def test_format_fills_patient_and_sample():
    assert tables.CNR.format(patient="P01", sample="P01_D1") == "results/cnv/P01/P01_D1.cnr"
    assert tables.TUMOUR_FRACTION.format() == "results/cnv/tumour_fraction.tsv"
    assert tables.TUMOUR_FRACTION.in_results == "cnv/tumour_fraction.tsv"


def test_report_reads_the_registry():
    for name, rel in {**sources.TABLES, **sources.PER_SAMPLE}.items():
        assert f"results/{rel}" == tables.BY_NAME[name].path
        assert sources.REQUIRED[name] == tables.BY_NAME[name].required


# Producers' column constants, as (module, constant). The cohort tables' producers are being
# moved (issue 19: plasmatrack.cohort / plasmatrack.stats); only these import paths change.
PRODUCERS = {
    "qc_sample": ("plasmatrack.qc.sample", "QC_COLUMNS"),
    "qc_summary": ("plasmatrack.qc.sample", "QC_COLUMNS"),
    "fingerprint_sites": ("plasmatrack.qc.identity", "SITE_COLUMNS"),
    "fingerprint": ("plasmatrack.qc.identity", "FINGERPRINT_COLUMNS"),
    "identity": ("plasmatrack.qc.identity", "PAIR_COLUMNS"),
    "identity_samples": ("plasmatrack.qc.identity", "SAMPLE_COLUMNS"),
    "cnr": ("plasmatrack.cnv.segment", "CNR_COLUMNS"),
    "hmm_states": ("plasmatrack.cnv.pipeline", "STATE_COLUMNS"),
    "tumour_fraction_cn": ("plasmatrack.cnv.summary", "TF_COLUMNS"),
    "tumour_fraction": ("plasmatrack.cnv.summary", "TF_COLUMNS"),
    "tumour_fraction_baf": ("plasmatrack.cnv.baf", "DRAW_COLUMNS"),
    "genes": ("plasmatrack.cnv.genes", "GENE_COLUMNS"),
    "cnv_reference_pool": ("plasmatrack.cnv.reference_pool", "POOL_COLUMNS"),
    "erbb2": ("plasmatrack.cnv.genes", "GENE_COLUMNS"),
    "variant_sites": ("plasmatrack.variants.pipeline", "SITE_COLUMNS"),
    "tracked_variants": ("plasmatrack.variants.pipeline", "TRACKED_COLUMNS"),
    "snv_tumour_fraction": ("plasmatrack.variants.snv_tf", "TF_COLUMNS"),
    "cohort_maf": ("plasmatrack.variants.maf", "MAF_COLUMNS"),
    "variant_background": ("plasmatrack.variants.background", "BACKGROUND_COLUMNS"),
    "control_observations": ("plasmatrack.variants.background", "CONTROL_OBS_COLUMNS"),
    "variant_clusters": ("plasmatrack.clonal.pipeline", "VARIANT_COLUMNS"),
    "cluster_prevalence": ("plasmatrack.clonal.pipeline", "PREVALENCE_COLUMNS"),
    "tree": ("plasmatrack.clonal.pipeline", "TREE_COLUMNS"),
    "events": ("plasmatrack.clonal.pipeline", "EVENT_COLUMNS"),
    "ccf": ("plasmatrack.clonal.pipeline", "CCF_COLUMNS"),
    "model_selection": ("plasmatrack.clonal.pipeline", "SELECTION_COLUMNS"),
    "mrd_sites": ("plasmatrack.mrd.sites", "SITE_COLUMNS"),
    "mrd_calls": ("plasmatrack.mrd.call", "MRD_COLUMNS"),
    "her2_burden": ("plasmatrack.cohort.columns", "BURDEN_COLUMNS"),
    "draw_metrics": ("plasmatrack.cohort.columns", "DRAW_METRICS_COLUMNS"),
    "dynamics": ("plasmatrack.cohort.columns", "DYNAMICS_COLUMNS"),
    "survival": ("plasmatrack.stats.survival", "SURVIVAL_COLUMNS"),
    "km_curves": ("plasmatrack.stats.survival", "KM_CURVES_COLUMNS"),
    "km_at_risk": ("plasmatrack.stats.survival", "KM_AT_RISK_COLUMNS"),
    "cox_terms": ("plasmatrack.stats.survival", "COX_TERMS_COLUMNS"),
    "maxstat_cuts": ("plasmatrack.stats.survival", "MAXSTAT_CUTS_COLUMNS"),
    "umi_metrics": ("plasmatrack.umi.metrics", "METRIC_COLUMNS"),
    "umi_family_sizes": ("plasmatrack.umi.metrics", "FAMILY_SIZE_COLUMNS"),
    "umi_summary": ("plasmatrack.umi.metrics", "METRIC_COLUMNS"),
}

# Readers' column constants: each must be within the registry's required columns. (cnv.baf's
# TRACKED_REQUIRED also reads tracked_variants' added column variant_type, which the contract
# leaves out: the report's synthetic tables, like other tools' tracked tables, do not have it.)
CONSUMERS = {
    "tumour_fraction": [("plasmatrack.cohort.columns", "TF_INPUT_COLUMNS")],
    "erbb2": [("plasmatrack.cohort.columns", "ERBB2_INPUT_COLUMNS")],
    "tracked_variants": [("plasmatrack.cohort.columns", "VARIANT_INPUT_COLUMNS"),
                         ("plasmatrack.clonal.inputs", "TRACKED_REQUIRED")],
    "tumour_fraction_cn": [("plasmatrack.clonal.inputs", "TF_REQUIRED")],
    "snv_tumour_fraction": [("plasmatrack.clonal.inputs", "SNV_TF_REQUIRED")],
    "hmm_states": [("plasmatrack.cnv.baf", "STATES_REQUIRED")],
}


def _constant(module: str, name: str) -> tuple[str, ...]:
    return tuple(getattr(importlib.import_module(module), name))


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_producer_writes_the_required_columns_in_order(name):
    written = _constant(*PRODUCERS[name])
    required = tables.BY_NAME[name].required
    missing = [c for c in required if c not in written]
    assert not missing, f"{name}: the producer's columns lack {missing}"
    assert [c for c in written if c in required] == list(required), \
        f"{name}: required columns in another order than the producer writes them"


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_readers_need_only_the_required_columns(name):
    required = set(tables.BY_NAME[name].required)
    for module, constant in CONSUMERS[name]:
        extra = set(_constant(module, constant)) - required
        assert not extra, f"{module}.{constant} reads {sorted(extra)} beyond {name}'s contract"
