"""The facts printed with every benchmark: the machine, the versions, the load, the command."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TextIO

import psutil


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _quiet(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "unknown"


def facts(original_venv: Path) -> dict[str, str]:
    original_python = original_venv / "bin" / "python"
    versions = "import aiohttp, uvloop; print(f'aiohttp {aiohttp.__version__}, uvloop {uvloop.__version__}')"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{psutil.cpu_count()} x {cpu_model()}",
        "memory": f"{psutil.virtual_memory().total / (1 << 30):.1f} GiB",
        "kernel": platform.release(),
        "load average before": load_average(),
        "python": sys.version.split()[0],
        "wrk": _quiet(["wrk", "--version"]).split(" [")[0],
        "webui-host": f"aiohttp {version('aiohttp')}, uvloop {version('uvloop')}",
        "original webserver": _quiet([str(original_python), "-c", versions]) if original_python.exists() else "-",
    }


def header(mode: str, command: str, machine: dict[str, str], duration: float) -> str:
    lines = [
        f"# webui-host benchmark: {mode}",
        "",
        f"Command: `{command}` (wrk -t1 --latency, keep-alive, {max(1, round(duration))} s per row; "
        "CPU ms per request: user+system of every process of the server under test, Redis/etcd in "
        "parentheses; wrk, the upstream and the server share the machine)",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in machine.items()]
    return "\n".join(lines) + "\n"


def print_log_tails(directory: Path, stream: TextIO, lines: int = 20) -> None:
    """The end of every log the harness's servers wrote, for a failed run (the directory is removed)."""
    for path in sorted(directory.rglob("*.log")):
        try:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        print(f"--- {path.relative_to(directory)}", file=stream)
        print("\n".join(tail), file=stream)
