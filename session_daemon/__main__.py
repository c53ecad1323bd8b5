"""``python -m session_daemon -f CONFIG``: the host's one writer of session data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.bootstrap import Settings, run_service


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="session_daemon", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    return parser.parse_args(argv)


async def serve(settings: Settings) -> None:
    from session_daemon.service import SessionDaemon

    await SessionDaemon(settings).run()


if __name__ == "__main__":
    sys.exit(run_service("session_daemon", parse_args(sys.argv[1:]).config, serve))
