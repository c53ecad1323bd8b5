"""CLI: ``python -m devstack --host 127.0.0.1 --port 8091 [--users-file F] [--max-password-age-days N]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import timedelta

import uvloop
from aiohttp import web

from devstack.app import create_app
from devstack.dev_routes import ECHO_HEARTBEAT, EchoCounts
from devstack.users import UserDirectory, load_users_file
from service_runtime.long_lived_gc import LongLivedCollector


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description="Backend.AI Manager stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--users-file", help="JSON list of users that override/extend the defaults")
    parser.add_argument(
        "--max-password-age-days",
        type=float,
        help="enable password expiry and /auth/update-password-no-auth",
    )
    return parser.parse_args(argv)


def configure_logging() -> None:
    # Access lines are already JSON; print them bare, one per line, on stderr.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("devstack.access", "devstack.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


async def _collector(_app: web.Application):
    """Thousands of idle echo sockets (bench/websockets.py) out of full collections, as in the front door."""
    task = asyncio.create_task(LongLivedCollector(EchoCounts.counts).run())
    yield
    task.cancel()


async def _announce(host: str, port: int, user_count: int) -> None:
    event = {"event": "starting", "host": host, "port": port, "users": user_count}
    logging.getLogger("devstack.access").info(json.dumps(event))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        users = load_users_file(args.users_file) if args.users_file else UserDirectory.with_defaults()
    except (OSError, ValueError) as exc:
        print(f"devstack: cannot load users file: {exc}", file=sys.stderr)
        return 2
    max_age = timedelta(days=args.max_password_age_days) if args.max_password_age_days is not None else None
    app = create_app(users, max_password_age=max_age)
    app.on_startup.append(lambda _app: _announce(args.host, args.port, len(users)))
    app.cleanup_ctx.append(_collector)
    # aiohttp's banner and access log are replaced by our JSON lines.
    # Echo sockets' heartbeats at their own times, not all at the whole second (as the front door).
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        loop=uvloop.new_event_loop(),
        access_log=None,
        print=None,
        timeout_ceil_threshold=ECHO_HEARTBEAT,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
