#!/usr/bin/env bash
# Benchmark webui-host against the development Manager; prints a Markdown table of figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup --test >/dev/null
exec .venv/bin/python bench/bench.py "$@"
