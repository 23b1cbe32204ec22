#!/usr/bin/env bash
# Every test layer (unit, negative, real data, end-to-end, browser, cluster). Services the tests need
# (a single-node SLURM, headless Chromium) are started and stopped by the tests' own fixtures.
# Tests run in one pytest-xdist worker per core (at most 4): the SLURM test mostly waits for status
# polls while a pipeline run in the other worker uses the CPU. tests/xdist_groups.py keeps every
# test of a pipeline run (and the cluster layer) on one worker, so each run is built once.
# `make test ARGS="-n 0"` runs the layers in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
workers=$(python -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')
exec python -m pytest tests -n "$workers" "$@"
