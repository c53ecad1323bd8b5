"""``python -m session_daemon -f CONFIG``: the host's one writer of session data."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

gc.disable()  # until the imports are done: service_runtime.process.imports_done
from service_runtime.process import Process, run_process  # noqa: E402
from session_daemon.service import SessionDaemon  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="session_daemon", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    return parser.parse_args(argv)


def build(process: Process) -> SessionDaemon:
    return SessionDaemon(
        process.settings, instruments=process.instruments, on_reload=process.on_reload, resources=process.resources
    )


def main(argv: list[str]) -> int:
    return run_process("session_daemon", parse_args(argv).config, build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
