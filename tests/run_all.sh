#!/usr/bin/env bash
# Every test layer (unit, negative, real data, end-to-end, browser, cluster). Services the tests need
# (a single-node SLURM, headless Chromium) are started and stopped by the tests' own fixtures.
# Tests run in one pytest-xdist worker per core (at most 4): the pipeline runs and the SLURM test
# wait on each other's idle time instead of in turn. tests/xdist_groups.py keeps every test of a
# pipeline run (and the cluster layer) on one worker, so each run is still built once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
workers=$(python -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')
exec python -m pytest tests -n "$workers" "$@"
