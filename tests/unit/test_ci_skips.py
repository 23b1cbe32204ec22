"""The CI rule of the test command: under CI=true every kind of skip fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest
def test_runtime_skip():
    pytest.skip("component X is missing")
@pytest.mark.skipif(True, reason="marker skip")
def test_marker_skip():
    pass
@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
def test_passes():
    pass
"""


def _run(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "ci_skips", "-p",
                           "no:cacheprovider", "-q", "--rootdir", str(folder), str(folder)],
                          capture_output=True, text=True, env=env, cwd=folder)


def test_skips_fail_under_ci_and_stay_skips_elsewhere(tmp_path):
    (tmp_path / "test_sample.py").write_text(SKIPPING)
    laptop = _run(tmp_path, None)
    assert laptop.returncode == 0, laptop.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in laptop.stdout
    ci = _run(tmp_path, "true")
    assert ci.returncode == 1, ci.stdout
    assert "component X is missing" in ci.stdout and "marker skip" in ci.stdout
    assert ci.stdout.count("skipped under CI=true") >= 2
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in ci.stdout


def test_module_level_skip_fails_under_ci(tmp_path):
    (tmp_path / "test_module_skip.py").write_text(
        "import pytest\npytest.skip('no data here', allow_module_level=True)\n"
        "def test_a():\n    pass\n")
    assert _run(tmp_path, None).returncode in (0, 5)  # 5: nothing collected, all skipped
    ci = _run(tmp_path, "true")
    assert ci.returncode != 0 and "no data here" in ci.stdout
