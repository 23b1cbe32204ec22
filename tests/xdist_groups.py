"""Which tests must share a pytest-xdist worker (``make test ARGS="-n 2"`` runs ``pytest -n 2``).

A session-scoped pipeline run (``demo_run``, ``dilution_run``, ``capture_run``) is built once per
worker, so every test that uses one is sent to the same worker: the run is built once, as without
xdist. Tests that use a module- or class-scoped fixture stay together per module for the same
reason, and the whole cluster layer shares one worker because it starts one SLURM. Everything
else is spread freely. Loaded by ``tests/conftest.py``.

How: xdist's own ``--dist loadgroup`` rewrites node ids to carry the group, which pytest 9's
structured node ids ignore (xdist 3.8), so it groups nothing. Instead the workers write each
test's group to a file named by the controller (``GROUPS_ENV``), and the controller's scheduler
(``LoadScopeScheduling`` with its scope read from that file) hands out one group at a time.
Groups are queued longest first (the pipeline runs, then the rest in collection order) so that
the two long halves start together."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# Session fixtures that each run the whole pipeline (minutes): one worker each.
PIPELINE_RUNS = ("demo_run", "dilution_run", "capture_run")
CLUSTER = "cluster"
# The file (JSON: node id -> group) the workers write and the controller's scheduler reads.
GROUPS_ENV = "PLASMATRACK_XDIST_GROUPS"


def group_of(item) -> str | None:
    """The xdist group of a collected test, or None where any worker may run it."""
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("tests/cluster/"):
        return CLUSTER
    for name in PIPELINE_RUNS:
        if name in item.fixturenames:
            return name
    definitions = getattr(item, "_fixtureinfo", None)
    for name in item.fixturenames:
        defs = definitions.name2fixturedefs.get(name) if definitions else None
        if defs and defs[-1].scope in ("module", "class", "package"):
            return path
    return None


def _queue_rank(group: str | None) -> int:
    """Long groups first: the SLURM test (mostly waiting), the pipeline runs, then the other
    grouped modules, then single tests."""
    if group == CLUSTER:
        return 0
    if group in PIPELINE_RUNS:
        return 1 + PIPELINE_RUNS.index(group)
    if group and group.startswith("tests/e2e/"):
        return 1 + len(PIPELINE_RUNS)
    return 2 + len(PIPELINE_RUNS)


def pytest_configure(config):
    """On the controller of an xdist run: name the groups file before the workers start (they
    inherit the environment)."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    handle, path = tempfile.mkstemp(prefix="plasmatrack-xdist-groups-", suffix=".json")
    os.close(handle)
    os.environ[GROUPS_ENV] = path
    config.option.loadscopereorder = False


def pytest_unconfigure(config):
    path = os.environ.get(GROUPS_ENV)
    if path and not hasattr(config, "workerinput"):
        Path(path).unlink(missing_ok=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On an xdist worker: order the tests longest group first and write every test's group
    (a run without workers keeps pytest's order)."""
    path = os.environ.get(GROUPS_ENV)
    if path and hasattr(config, "workerinput"):
        groups = {item.nodeid: group_of(item) for item in items}
        items.sort(key=lambda item: _queue_rank(groups[item.nodeid]))
        tmp = f"{path}.{config.workerinput['workerid']}"
        Path(tmp).write_text(json.dumps({k: v for k, v in groups.items() if v}))
        os.replace(tmp, path)


def pytest_xdist_make_scheduler(config, log):
    """Whole groups to one worker at a time (see the module docstring)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:
                path = os.environ.get(GROUPS_ENV)
                text = Path(path).read_text() if path and Path(path).is_file() else ""
                self._groups = json.loads(text) if text else {}
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
