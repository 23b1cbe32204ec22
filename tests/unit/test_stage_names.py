"""One name per stage: its rule file, rules, rule scripts, package, command, tables, docs and tests
all carry it (docs/architecture.md, "Stages, one name everywhere"), so a newcomer finds every
piece of a stage by its name. Fails when a new rule, script or table strays from its stage's name."""

import argparse
import re
from pathlib import Path

import pytest

from plasmatrack import tables
from plasmatrack.cli import ALIASES, COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[2]
STAGES = ("align", "qc", "cnv", "variants", "clonal", "mrd", "cohort", "report", "umi")
# align.smk also prepares the reference, and its rules keep the names users know from bwa and
# samtools workflows; align is shell (bwa, samtools), so it has no package or command.
ALIGN_RULES = {"reference_fasta", "reference_faidx", "reference_bwa_index", "reference_beds",
               "check_fastq", "import_bam", "index_bam"}
NO_PACKAGE = {"align"}


def _rules(stage: str) -> list[str]:
    text = (REPO / "workflow" / "rules" / f"{stage}.smk").read_text()
    return re.findall(r"^rule (\w+):", text, flags=re.M)


def _scripts(stage: str) -> list[str]:
    text = (REPO / "workflow" / "rules" / f"{stage}.smk").read_text()
    return re.findall(r'"\.\./\.\./scripts/rules/(\w+)\.py"', text)


@pytest.mark.parametrize("stage", STAGES)
def test_rules_and_scripts_carry_the_stage_name(stage):
    rules = _rules(stage)
    assert rules, f"workflow/rules/{stage}.smk defines no rule"
    allowed = ALIGN_RULES if stage == "align" else set()
    strays = [r for r in rules if r != stage and not r.startswith(f"{stage}_") and r not in allowed]
    assert not strays, f"{stage}.smk: rules not named {stage}_*: {strays}"
    prefixes = (f"{stage}_", "reference_") if stage == "align" else (f"{stage}_",)
    scripts = _scripts(stage)
    assert all(s.startswith(prefixes) for s in scripts), scripts
    for script in scripts:
        assert (REPO / "scripts" / "rules" / f"{script}.py").is_file(), script


def test_every_rule_script_belongs_to_one_stage():
    used = {s for stage in STAGES for s in _scripts(stage)}
    present = {p.stem for p in (REPO / "scripts" / "rules").glob("*.py")}
    assert present == used, f"rule scripts no rule runs: {sorted(present - used)}"


@pytest.mark.parametrize("stage", [s for s in STAGES if s not in NO_PACKAGE])
def test_package_and_command_carry_the_stage_name(stage):
    assert (REPO / "scripts" / "plasmatrack" / stage / "__init__.py").is_file()
    assert ALIASES.get(stage, stage) in COMMANDS, f"no `plasmatrack {stage}` command"
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert stage in sub.choices, f"`plasmatrack {stage}` is not a command name or alias"


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "align"])
def test_docs_and_tests_carry_the_stage_name(stage):
    assert (REPO / "docs" / f"{stage}.md").is_file(), f"docs/{stage}.md"
    found = list((REPO / "tests").glob(f"*/test_{stage}*.py"))
    assert found, f"no tests/*/test_{stage}*.py"


def test_every_published_table_lives_in_its_stage_folder():
    for table in tables.ALL:
        stage = Path(table.in_results).parts[0]
        assert stage in STAGES, f"{table.name}: {table.path} is not under a stage's folder"
