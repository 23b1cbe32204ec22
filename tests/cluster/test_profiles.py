"""The execution profiles without a cluster (seconds): they parse, a dry run with each plans the
whole workflow, the SLURM profile's groups bundle each sample's small jobs into one cluster job and
name only rules that exist, and every rule that can be sent to a cluster declares what it needs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROFILES = REPO / "profiles"


def _dry_run(cohort: Path, workdir: Path, profile: str) -> str:
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(cohort / "config.yaml"), "--profile", str(PROFILES / profile),
           "--dry-run"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/",
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _rule_names_in_rule_files() -> set[str]:
    names = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        names |= set(re.findall(r"^rule (\w+):", path.read_text(), re.M))
    return names


def test_slurm_profile_groups_each_samples_small_jobs(mini_cohort, tmp_path):
    log = _dry_run(mini_cohort, tmp_path / "run", "slurm")
    n_samples = len((mini_cohort / "samples.tsv").read_text().splitlines()) - 1
    # One cluster job per sample for its FASTQ check, alignment (with the BAM index) and
    # copy-number coverage, one for both reference indexes.
    assert len(re.findall(r"Group job align_sample ", log)) == n_samples
    assert len(re.findall(r"Group job reference_index ", log)) == 1
    # Those steps run only inside the group jobs (indented there), never as jobs of their own.
    for rule in ("check_fastq", "align", "cnv_coverage"):
        assert len(re.findall(rf"^\s+rule {rule}:$", log, re.M)) == n_samples, rule
        assert not re.search(rf"^rule {rule}:$", log, re.M), rule
    # QC (with the identity fingerprint) waits for the cohort's fingerprint sites: one job each.
    assert len(re.findall(r"^rule qc_sample:$", log, re.M)) == n_samples


def test_local_profile_dry_run(mini_cohort, tmp_path):
    log = _dry_run(mini_cohort, tmp_path / "run", "local")
    assert "Group job" not in log  # groups only matter to cluster executors
    assert re.search(r"^align\s+3$", log, re.M)


def test_slurm_profile_settings():
    profile = yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["rerun-incomplete"] is True and profile["retries"] >= 1
    # Memory of rules without their own figure grows with the attempt.
    mem = profile["default-resources"]["mem_mb"]
    assert eval(mem, {"attempt": 2}) == 2 * eval(mem, {"attempt": 1}) > 0  # noqa: S307
    # Groups name rules that exist (a renamed rule must not silently drop out of its group).
    assert set(profile["groups"]) <= _rule_names_in_rule_files()
    assert set(profile["group-components"]) == set(profile["groups"].values())


def _workflow_rules(cohort: Path, workdir: Path):
    """The parsed workflow's rules, through Snakemake's Python API (no jobs are run)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (ConfigSettings, OutputSettings, ResourceSettings,
                                          StorageSettings)

    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            snakefile=REPO / "Snakefile", workdir=workdir,
            config_settings=ConfigSettings(configfiles=[cohort / "config.yaml"]),
            resource_settings=ResourceSettings(), storage_settings=StorageSettings())
        workflow = workflow_api._workflow
        return [(rule.name, workflow.is_local(rule), dict(rule.resources))
                for rule in workflow.rules]


def test_cluster_rules_declare_memory_and_runtime(mini_cohort, tmp_path):
    """A rule that runs on the cluster states its memory (mem_mb) and wall time (runtime, min):
    the profile's defaults are only a fallback, and a too-small guess costs a failed job."""
    rules = _workflow_rules(mini_cohort, tmp_path / "run")
    assert rules
    missing = {name: sorted({"mem_mb", "runtime"} - set(declared))
               for name, local, declared in rules
               if not local and not {"mem_mb", "runtime"} <= set(declared)}
    assert not missing, f"rules that run on the cluster without mem_mb/runtime: {missing}"
    local = {name for name, is_local, _ in rules if is_local}
    # The trivial steps stay on the submitting machine.
    assert {"reference_fasta", "reference_beds", "all"} <= local


ALIGN_RULES = ("reference_faidx", "reference_bwa_index", "check_fastq", "align", "index_bam")


def test_alignment_requests_grow_with_attempt(mini_cohort, tmp_path):
    """A retried alignment-stage job asks SLURM for twice, then three times the memory and time
    (the align section's mem_mb for the alignment itself)."""
    rules = {name: resources for name, _, resources in
             _workflow_rules(mini_cohort, tmp_path / "run")}
    for name in ALIGN_RULES:
        for resource in ("mem_mb", "runtime"):
            values = [rules[name][resource].evaluate({}, attempt=a, threads=1, input=[]).value
                      for a in (1, 2, 3)]
            assert values == [values[0], 2 * values[0], 3 * values[0]], (name, resource, values)
    # mem_mb default of the schema's align section: 4000 MB on the first attempt.
    assert rules["align"]["mem_mb"].evaluate({}, attempt=1, threads=1, input=[]).value == 4000
