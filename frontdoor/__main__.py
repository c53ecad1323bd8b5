"""``python -m frontdoor -f CONFIG --worker N``: one front-door worker (workers share the port)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import uvloop

from contract.bootstrap import load_settings
from contract.config import ConfigError
from contract.jsonlog import setup_logging
from contract.metrics import enable_multiprocess, forget_own_live_gauges


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="frontdoor", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    parser.add_argument("--worker", type=int, default=0, help="worker number (for logs and metric files)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    setup_logging("frontdoor")  # until the file says otherwise
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings = loop.run_until_complete(load_settings(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    config = settings.config
    setup_logging("frontdoor", config.runtime.log_level, config.runtime.log_format)
    enable_multiprocess(config.runtime.state_dir, "frontdoor", args.worker)  # before any metric exists
    from frontdoor.lifecycle import serve

    try:
        return loop.run_until_complete(serve(settings, args.config, args.worker))
    finally:
        forget_own_live_gauges()
        loop.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
