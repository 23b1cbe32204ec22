#!/usr/bin/env bash
# Every test layer (unit, negative, real data, end-to-end, browser, cluster). Services the tests need
# (a single-node SLURM, headless Chromium) are started and stopped by the tests' own fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
exec python -m pytest tests "$@"
