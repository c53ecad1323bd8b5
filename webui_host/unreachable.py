"""One line, not a traceback, when a CLI command cannot reach etcd or Redis.

Operators run these commands by hand and from scripts: a stack trace of grpc internals hides the one
fact that matters (which server, at which address) and its exit status says nothing.  Every command
goes through ``describe`` in ``cli.main``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aetcd.exceptions
import redis.exceptions

from contract.config import ConfigError
from service_runtime.config_file import load_config

EXIT_UNREACHABLE = 1

_ETCD = (aetcd.exceptions.ConnectionFailedError, aetcd.exceptions.ConnectionTimeoutError)
_REDIS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def describe(exc: BaseException, config_path: Path | None) -> str | None:
    """The one-line error for an unreachable server, or None when ``exc`` is something else."""
    if isinstance(exc, _ETCD):
        return f"etcd at {_address(config_path, 'etcd')} is unreachable ({_first_line(exc)})"
    if isinstance(exc, _REDIS):
        return f"Redis at {_address(config_path, 'redis')} is unreachable ({_first_line(exc)})"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"etcd or Redis did not answer in time ({_first_line(exc) or 'timeout'})"
    return None


def _address(config_path: Path | None, server: str) -> str:
    try:
        config = load_config(config_path)
    except (ConfigError, OSError):
        return "the configured address"
    return config.etcd_addr if server == "etcd" else config.redis_addr


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
