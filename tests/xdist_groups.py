"""Which tests must share a pytest-xdist worker (``make test`` runs ``pytest -n N --dist
loadgroup``).

A session-scoped pipeline run (``demo_run``, ``dilution_run``, ``capture_run``) is built once per
worker, so every test that uses one is sent to the same worker: the run is built once, as without
xdist. Tests that use a module- or class-scoped fixture stay together per module for the same
reason, and the whole cluster layer shares one worker because it starts one SLURM. Everything
else is spread freely. Loaded by ``tests/conftest.py``."""

from __future__ import annotations

import pytest

# Session fixtures that each run the whole pipeline (minutes): one worker each.
PIPELINE_RUNS = ("demo_run", "dilution_run", "capture_run")


def group_of(item) -> str | None:
    """The xdist group of a collected test, or None where any worker may run it."""
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("tests/cluster/"):
        return "cluster"
    for name in PIPELINE_RUNS:
        if name in item.fixturenames:
            return name
    definitions = getattr(item, "_fixtureinfo", None)
    for name in item.fixturenames:
        defs = definitions.name2fixturedefs.get(name) if definitions else None
        if defs and defs[-1].scope in ("module", "class", "package"):
            return path
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark each test with its group before xdist turns the marks into scheduling scopes."""
    for item in items:
        group = group_of(item)
        if group and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
