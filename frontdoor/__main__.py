"""``python -m frontdoor -f CONFIG --worker N``: one front-door worker (workers share the port)."""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from contract.bootstrap import load_settings
from contract.config import Config, ConfigError
from contract.jsonlog import setup_logging


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="frontdoor", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    parser.add_argument("--worker", type=int, default=0, help="worker number (for logs)")
    return parser.parse_args(argv)


def tls_context(config: Config) -> ssl.SSLContext | None:
    if not config.service.ssl_enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.service.ssl_cert, config.service.ssl_privkey)
    return context


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
    from frontdoor.app import build_app

    async def make_app() -> web.Application:
        return build_app(settings)

    web.run_app(
        make_app(),
        host=config.service.ip,
        port=config.service.port,
        ssl_context=tls_context(config),
        reuse_port=True,
        backlog=1024,
        access_log=None,
        print=None,
        shutdown_timeout=30.0,
        loop=loop,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
