"""The one configuration model every webui-host process reads.

Sections and key names follow Backend.AI's ``webserver.conf`` where it has them (``[service]``,
``[api]``, ``[session]``, ``[otel]``), so an operator's existing file keeps working; ``[signers]``, ``[zmq]``,
``[etcd]``, ``[runtime]`` and ``[embedded]`` are ours.  Keys may be written in snake_case or
kebab-case.  Validation collects every problem and reports them together.  The sections are in
``contract.config_sections``; reading the file is ``service_runtime.config_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract.backendai_keys import KeyNote, account, apply_aliases
from contract.config_sections import (
    ApiConfig,
    EmbeddedConfig,
    OpsConfig,
    RuntimeConfig,
    SecurityConfig,
    ServiceConfig,
    SignersConfig,
    WebApiConfig,
    ZmqConfig,
)
from contract.csp import table_problems
from contract.fields import Field, Model, describe
from contract.otel_config import OtelConfig
from contract.pipeline_config import PipelineConfig
from contract.store_config import EtcdConfig, SessionConfig


class ConfigError(Exception):
    """Every problem found in a configuration, one per line."""

    def __init__(self, problems: list[str], keys: dict[str, dict[str, str]] | None = None):
        self.problems = problems
        self.keys = keys or {}  # what each key of the file is (contract.backendai_keys), for check-config --json
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Config(Model, extra="allow"):
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    signers: SignersConfig = Field(default_factory=SignersConfig)
    zmq: ZmqConfig = Field(default_factory=ZmqConfig)
    etcd: EtcdConfig = Field(default_factory=EtcdConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    embedded: EmbeddedConfig = Field(default_factory=EmbeddedConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    webapi: WebApiConfig = Field(default_factory=WebApiConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    otel: OtelConfig = Field(default_factory=OtelConfig)
    _key_notes: tuple[KeyNote, ...] = ()  # set by parse_config

    @property
    def key_notes(self) -> list[KeyNote]:
        """What webui-host does with each key of the file (``contract.backendai_keys``)."""
        return list(self._key_notes)

    @property
    def warnings(self) -> list[str]:
        """Keys of the file that have no effect here, by name: printed by check-config, logged at start."""
        return [f"{note.path}: {note.note}" for note in self._key_notes if note.kind == "warned"]

    @property
    def ipc_dir(self) -> Path:
        return self.zmq.ipc_dir or self.runtime.state_dir / "ipc"

    @property
    def secrets_dir(self) -> Path:
        return self.runtime.secrets_dir or self.runtime.state_dir / "secrets"

    @property
    def embeds_redis(self) -> bool:
        """The file names no Redis: we run our own on the embedded port."""
        return "redis" not in self.session.fields_set

    @property
    def embeds_etcd(self) -> bool:
        return "addr" not in self.etcd.fields_set

    @property
    def redis_addr(self) -> str:
        """The Redis in use, for people: host:port, or the Sentinels and the service they watch."""
        if self.embeds_redis:
            return f"127.0.0.1:{self.embedded.redis_port}"
        redis = self.session.redis
        if redis.sentinel:
            return f"sentinel {','.join(redis.sentinel)} ({redis.service_name})"
        return redis.addr

    @property
    def etcd_endpoints(self) -> list[str]:
        if self.embeds_etcd:
            return [f"127.0.0.1:{self.embedded.etcd_port}"]
        return list(self.etcd.addr)

    @property
    def etcd_addr(self) -> str:
        return ",".join(self.etcd_endpoints)

    @property
    def devstack_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.embedded.manager_port}"


def normalise_keys(value: Any) -> Any:
    """kebab-case and snake_case are the same key (Backend.AI accepts both)."""
    if isinstance(value, dict):
        return {str(k).replace("-", "_"): normalise_keys(v) for k, v in value.items()}
    return value


def _cross_field_problems(raw: dict[str, Any]) -> list[str]:
    """Rules spanning several keys, checked on the raw tables so they are reported with the rest."""
    problems = []
    service = raw.get("service") if isinstance(raw.get("service"), dict) else {}
    if service.get("ssl_enabled") is True and not (service.get("ssl_cert") and service.get("ssl_privkey")):
        problems.append("service.ssl_enabled: ssl_enabled requires both ssl_cert and ssl_privkey")
    security = raw.get("security") if isinstance(raw.get("security"), dict) else {}
    redirect_port = security.get("http_redirect_port")
    if redirect_port is not None and service.get("ssl_enabled") is not True:
        problems.append("security.http_redirect_port: it redirects to HTTPS, so it needs service.ssl_enabled")
    if redirect_port is not None and redirect_port == service.get("port", 8090):
        problems.append("security.http_redirect_port: must differ from service.port")
    if security.get("csp") is not None:
        problems += [f"security.csp.{problem}" for problem in table_problems(security["csp"])]
    return problems


def parse_config(raw: dict[str, Any]) -> Config:
    raw = normalise_keys(raw)
    notes = account(raw, Config)
    raw = apply_aliases(raw)
    problems = _cross_field_problems(raw)
    problems += [f"{note.path}: {note.note}" for note in notes if note.kind == "refused"]
    found: list = []
    config = Config.build(raw, (), found)
    problems += [describe(location, message) for location, message in found]
    if problems:
        raise ConfigError(problems, {note.path: {"kind": note.kind, "note": note.note} for note in notes})
    config._key_notes = tuple(notes)
    return config


# Sections etcd may override cluster-wide; bootstrap settings (listeners, Redis, etcd, paths) stay local.
GLOBAL_SECTIONS = ("api", "session")
BOOTSTRAP_KEYS = {"session": {"redis"}}


def merge_global_overrides(raw_file: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Lay etcd's global settings over the file's, leaving bootstrap keys alone."""
    merged = {section: dict(values) if isinstance(values, dict) else values for section, values in raw_file.items()}
    for section, values in normalise_keys(overrides).items():
        if section not in GLOBAL_SECTIONS or not isinstance(values, dict):
            continue
        kept = BOOTSTRAP_KEYS.get(section, set())
        target = merged.setdefault(section, {})
        target.update({k: v for k, v in values.items() if k not in kept})
    return merged
