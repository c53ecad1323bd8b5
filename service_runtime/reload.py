"""SIGHUP: re-read the configuration and apply what can change without a restart.

Every part of a process holds the one ``Config`` object it was started with, so non-bootstrap keys are
updated *in place* on it and take effect at their next use (timeouts, log level, limits, ...).
Bootstrap keys (listeners, servers, paths, process counts) keep their running values; a reload that
changes one reports it as needing a restart instead of half-applying it.  So do ``[ops] unready_delay``
and ``drain_timeout`` in a front door whose launcher gave supervisord a stop wait shorter than the new
drain (``DRAIN_BUDGET_ENV``): supervisord would kill the worker mid-drain.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from contract.config import Config, ConfigError
from contract.fields import Model
from contract.host_layout import DRAIN_BUDGET_ENV
from service_runtime.jsonlog import setup_logging
from service_runtime.settings import load_settings

log = logging.getLogger(__name__)

ALL_KEYS = "*"
# section -> keys read once at start (ALL_KEYS: the whole section).
BOOTSTRAP_KEYS: dict[str, set[str] | str] = {
    # public_hosts: compiled into the listeners' first middleware.
    "service": {"ip", "port", "workers", "ssl_enabled", "static_path", "mode", "trusted_proxies", "public_hosts"},
    # endpoint: the signers sign only for the upstreams they started with; ssl_verify and
    # connection_limit: the front door's connection pool is built with them.
    "api": {"endpoint", "ssl_verify", "connection_limit"},
    "session": {"redis", "cookie_name"},
    "signers": {"count", "group"},
    "zmq": ALL_KEYS,
    "etcd": ALL_KEYS,
    "runtime": {"state_dir", "secrets_dir"},
    "embedded": ALL_KEYS,
    "ops": {"ip", "port"},
    # Parser limits and keep-alive are copied into the listener's connection handlers at start.
    # The tracer provider and its exporter are built once per process.
    "otel": ALL_KEYS,
    "security": {"http_redirect_port", "max_header_size", "max_headers", "keepalive_timeout"},
}

ReloadHook = Callable[[Config], "Awaitable[None] | None"]


@dataclass
class ReloadResult:
    changed: list[str] = field(default_factory=list)  # applied, as section.key
    needs_restart: list[str] = field(default_factory=list)  # differs in the file, not applied
    restart_reasons: dict[str, str] = field(default_factory=dict)  # why, for keys not bootstrap by nature


def is_bootstrap(section: str, key: str) -> bool:
    keys = BOOTSTRAP_KEYS.get(section, set())
    return keys == ALL_KEYS or key in keys


def drain_budget(environ: Mapping[str, str] = os.environ) -> float | None:
    """What the launcher said supervisord's stop wait covers (None: no supervisor told us)."""
    try:
        return float(environ[DRAIN_BUDGET_ENV])
    except (KeyError, ValueError):
        return None


def held_drain_keys(current: Config, fresh: Config, budget: float | None) -> dict[str, str]:
    """The changed drain keys a reload must not apply, with the reason: a drain longer than the stop
    wait supervisord was started with would be cut by SIGKILL."""
    drain = fresh.ops.unready_delay + fresh.ops.drain_timeout
    if budget is None or drain <= budget:
        return {}
    reason = (
        f"ops.unready_delay + ops.drain_timeout = {drain:g} s exceeds the {budget:g} s supervisord waits "
        "(stopwaitsecs) before it kills a front door; restart webui-host to render the new wait"
    )
    keys = ("unready_delay", "drain_timeout")
    return {f"ops.{key}": reason for key in keys if getattr(current.ops, key) != getattr(fresh.ops, key)}


def apply_reload(current: Config, fresh: Config, budget: float | None = None) -> ReloadResult:
    """Copy fresh's non-bootstrap values onto ``current`` (in place); list what changed and what cannot.
    ``budget``: the drain supervisord's stop wait covers (``drain_budget``), None if none applies."""
    result = ReloadResult(restart_reasons=held_drain_keys(current, fresh, budget))
    for section_name in type(current).FIELDS:
        section, new_section = getattr(current, section_name), getattr(fresh, section_name)
        if not isinstance(section, Model):
            continue
        for key in type(section).FIELDS:
            name = f"{section_name}.{key}"
            if is_bootstrap(section_name, key):
                if getattr(section, key) != getattr(new_section, key):
                    result.needs_restart.append(name)
            elif name in result.restart_reasons:
                result.needs_restart.append(name)
            elif _apply_key(section, new_section, key):
                result.changed.append(name)
        result.changed += _apply_extras(section, new_section, f"{section_name}.")
    result.changed += _apply_extras(current, fresh, "")
    return result


def _apply_key(section: Model, new_section: Model, key: str) -> bool:
    """Whether the value changed.  Whether the operator wrote the key follows too: ``/config.toml``
    shows Backend.AI's default for a key the file leaves out (``frontdoor.webui_config``)."""
    new_value = getattr(new_section, key)
    changed = getattr(section, key) != new_value
    if changed:
        setattr(section, key, new_value)
    if key in new_section.fields_set:
        section.fields_set.add(key)
    else:
        section.fields_set.discard(key)
    return changed


def _apply_extras(model: Model, fresh: Model, prefix: str) -> list[str]:
    """Backend.AI's keys we keep but do not model (its Web UI's, e.g. ``[resources]``, ``service.webui_debug``):
    read per request by ``/config.toml``, so applied.  Returns their names that changed."""
    extras, new_extras = model.extras, fresh.extras
    if extras == new_extras:
        return []
    changed = sorted(key for key in extras.keys() | new_extras.keys() if extras.get(key) != new_extras.get(key))
    extras.clear()
    extras.update(new_extras)
    return [prefix + key for key in changed]


async def run_hooks(hooks: list[ReloadHook], config: Config) -> None:
    for hook in hooks:
        try:
            outcome = hook(config)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:  # noqa: BLE001 - one failing hook must not stop the others
            log.exception("a reload hook failed", extra={"event": "config_reload", "status": "failure"})


async def reload_from_file(
    role: str, config_path: Path | None, current: Config, hooks: list[ReloadHook] = ()
) -> ReloadResult | None:
    """Re-read file and etcd, apply, re-configure logging, run the hooks; None if the file is invalid."""
    try:
        fresh = (await load_settings(config_path, etcd_wait=2.0)).config
    except ConfigError as exc:
        log.error(
            "configuration not reloaded: it is invalid",
            extra={"event": "config_reload", "status": "failure", "problems": exc.problems},
        )
        return None
    result = apply_reload(current, fresh, drain_budget())
    setup_logging(role, current.runtime.log_level, current.runtime.log_format)
    await run_hooks(list(hooks), current)
    log.info(
        "configuration reloaded",
        extra={
            "event": "config_reload",
            "status": "success",
            "changed": result.changed,
            "needs_restart": result.needs_restart,
            "restart_reasons": result.restart_reasons,
        },
    )
    return result


class Reloader:
    """Runs one reload at a time; a SIGHUP during a reload schedules one more after it."""

    def __init__(self, reload: Callable[[], Awaitable[Any]]):
        self._reload = reload
        self._task: asyncio.Task | None = None
        self._again = False

    def request(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            await self._reload()
            if not self._again:
                return

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
