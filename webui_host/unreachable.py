"""One line, not a traceback, when a CLI command cannot reach etcd or Redis.

Operators run these commands by hand and from scripts: a stack trace of client internals hides the one
fact that matters (which server, at which address) and its exit status says nothing.  Every command
goes through ``describe`` in ``cli.main``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from contract.config import ConfigError
from service_runtime.config_file import load_config

EXIT_UNREACHABLE = 1


def loaded_classes(module: str, *names: str) -> tuple[type, ...]:
    """Classes of ``module`` if something loaded it, else none: an error of a client library that was
    never loaded cannot have been raised (and `webui-host run` need not load etcd's and Redis's)."""
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()


def describe(exc: BaseException, config_path: Path | None) -> str | None:
    """The one-line error for an unreachable server, or None when ``exc`` is something else."""
    if isinstance(exc, loaded_classes("service_runtime.etcd_wire", "EtcdUnavailable")):
        return f"etcd at {_address(config_path, 'etcd')} is unreachable ({_first_line(exc)})"
    if isinstance(exc, loaded_classes("redis.exceptions", "ConnectionError", "TimeoutError")):
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
