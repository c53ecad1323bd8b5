"""The log-line and rate-limiter micro-benchmarks run as documented (this checkout as its own baseline)
and print one figure per variant."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(what: str) -> str:
    command = [sys.executable, "-m", "bench.logline", what, "--baseline", str(ROOT), "--repeats", "1"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout


def test_the_line_benchmark_times_both_writers():
    output = run("line")
    assert re.fullmatch(r"µs per line: baseline Logger\.info [\d.]+, this LineLogger [\d.]+\n", output), output


@pytest.mark.slow
def test_the_sync_benchmark_times_both_limiters_against_a_redis_server():
    output = run("sync")
    pattern = (
        r"µs per sync: 5 admitted baseline \d+, 5 admitted this \d+, no request baseline \d+, no request this \d+\n"
    )
    assert re.fullmatch(pattern, output), output
