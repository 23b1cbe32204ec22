"""Under CI (``CI=true``) a skip is a failure.

A missing component (SLURM, Chromium, R, ``../shared/data``) must fail the check that decides what
lands, not hide behind a skip; on a laptop it stays a skip with its message. Loaded by
``tests/conftest.py``; a pytest plugin (``-p ci_skips``) so that its own test can run it alone."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _fail_skip_in_ci(report) -> None:
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped at collection (``allow_module_level``) counts as a failure too."""
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())
