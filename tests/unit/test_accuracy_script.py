"""benchmarks/accuracy_clonal.py, which produces the clonal accuracy tables of docs/clonal.md,
still runs and reads its own output the way the docs quote it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_accuracy_clonal_script_prints_the_documented_table(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "accuracy_clonal.py"),
                           "--seeds", "2", "--patients", "3", "--tumour-content", "max",
                           "--workdir", str(tmp_path), "--explain-single"],
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("tumour content max, depth 800x")
    mean = [c.strip() for c in lines[-1].strip("|").split("|")]
    assert mean[0] == "mean"
    # seed 2, 3 patients: both informative patients clustered as the truth, resistance found;
    # the stage calls exactly those two resolved (P02's draws are all at TF < 0.03)
    assert mean[2] == "2" and float(mean[3]) >= 0.85
    assert float(mean[5]) >= 0.85 and mean[9] == "2/2"
    assert float(mean[7].rstrip("%")) >= 75
