"""End-to-end fixtures: the whole pipeline, run once per test session on small simulated cohorts
with known truth. Stage tests (tests/e2e/test_<stage>_truth.py) assert on the published tables.

Set PLASMATRACK_E2E_DIR to a folder to keep and reuse the runs between sessions (Snakemake then
reruns only what is out of date); by default they live in pytest's temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Small enough for CI on 2 cores, large enough for the accuracy checks of every stage.
DEMO_ARGS = ["--patients", "4", "--seed", "11"]
DILUTION_ARGS = ["--dilution", "--seed", "5"]
# The second, independently written generative regime (plasmatrack.capturesim): a focal-ERBB2,
# an arm-level and a genome-doubled tumour, each with a normal and two draws (one at TF 0).
CAPTURE_ARGS = ["--seed", "2", "--patients", "3", "--draws", "2", "--quiet"]


@dataclass
class PipelineRun:
    root: Path  # run folder: cohort/ (inputs + truth/) and results/
    cohort: Path
    results: Path
    log: str

    @property
    def truth(self) -> Path:
        return self.cohort / "truth"


def run_pipeline(root: Path, simulate_args: list[str], cores: int = 2,
                 targets: list[str] | None = None, simulator: str = "simulate") -> PipelineRun:
    root.mkdir(parents=True, exist_ok=True)
    cohort = root / "cohort"
    if not (cohort / "config.yaml").is_file() or simulator == "simulate":
        subprocess.run([str(BIN / "plasmatrack"), simulator, "--out", str(cohort),
                        *simulate_args], check=True, capture_output=True, text=True)
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
           "--configfile", str(cohort / "config.yaml"), "--cores", str(cores),
           "--rerun-incomplete", "--show-failed-logs", *(targets or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    if proc.returncode != 0:
        raise AssertionError(f"pipeline failed ({' '.join(cmd)}):\n{proc.stderr[-6000:]}")
    return PipelineRun(root=root, cohort=cohort, results=root / "results", log=proc.stderr)


def _base(tmp_path_factory, name: str) -> Path:
    keep = os.environ.get("PLASMATRACK_E2E_DIR")
    return Path(keep) / name if keep else tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> PipelineRun:
    """The demo-like cohort (4 patients, seed 11) through the whole pipeline."""
    return run_pipeline(_base(tmp_path_factory, "demo"), DEMO_ARGS)


@pytest.fixture(scope="session")
def dilution_run(tmp_path_factory) -> PipelineRun:
    """The dilution series (one tumour at TF 0 ... 0.4, plus normals) up to the copy-number
    tables its tests read: the stages after them run on the demo cohort, and leaving them out
    here saves about 12 % of this run's CPU (measured: 68 of 583 s)."""
    return run_pipeline(_base(tmp_path_factory, "dilution"), DILUTION_ARGS,
                        targets=["results/cnv/tumour_fraction.tsv", "results/cnv/erbb2.tsv",
                                 "results/cnv/genes.tsv"])


@pytest.fixture(scope="session")
def capture_run(tmp_path_factory) -> PipelineRun:
    """The capturesim cohort (3 patients, seed 2) up to the combined tumour fraction."""
    return run_pipeline(_base(tmp_path_factory, "capture"), CAPTURE_ARGS,
                        targets=["results/cnv/tumour_fraction.tsv"],
                        simulator="simulate-capture")
