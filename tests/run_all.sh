#!/usr/bin/env bash
# Every test layer (unit, negative, real data, end-to-end, browser, cluster). Services the tests need
# (a single-node SLURM, headless Chromium) are started and stopped by the tests' own fixtures.
# The layers run in turn. `make test ARGS="-n 2"` runs them in pytest-xdist workers
# (tests/xdist_groups.py keeps each pipeline run and the cluster layer on one worker); not the
# default yet: in session 11 the SLURM test failed once when it shared the machine with a pipeline
# run in the other worker, and passed alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
exec python -m pytest tests "$@"
