#!/usr/bin/env bash
# Benchmarks, one command each (loopback only; every server is started and stopped by the harness):
#   bench/run.sh compare [--duration S] [...]   fast upstream direct vs the original webserver 23.9.10 vs webui-host
#   bench/run.sh scaling [--duration S] [...]   webui-host with 1, 2, 4 front-door workers and 1, 2, 4 signers
#   bench/run.sh devstack [...]                 webui-host against the development Manager (bench/bench.py)
# Without a mode: compare.  `bench/run.sh compare --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup --test >/dev/null
mode="${1:-compare}"
[ $# -gt 0 ] && shift
case "$mode" in
  compare|scaling) BENCH_COMMAND="bench/run.sh $mode${*:+ $*}" exec .venv/bin/python -m bench.compare "$mode" "$@" ;;
  devstack) exec .venv/bin/python -m bench.bench "$@" ;;
  *) echo "usage: bench/run.sh [compare|scaling|devstack] [options]" >&2; exit 2 ;;
esac
