"""Where state lives: ``[session]`` with its Redis (address, Sentinels, TLS) and ``[etcd]`` (endpoints, TLS, auth).

Kept apart from ``contract.config_sections`` so that module stays readable; ``Config.session`` and
``Config.etcd`` are these models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract.config_sections import EMBEDDED_ETCD_PORT, EMBEDDED_REDIS_PORT, CompatSection, Section, split_list
from contract.fields import Field, field_check, model_check


def _host_port(value: Any, what: str) -> str:
    """Backend.AI's address forms: "host:port", or a {host, port} table."""
    if isinstance(value, dict):
        host, port = value.get("host"), value.get("port")
        if not isinstance(host, str) or not host or not isinstance(port, int) or isinstance(port, bool):
            raise ValueError(f"{value!r} is not a {{host, port}} {what}")
        value = f"{host}:{port}"
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not host:port")
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    return f"{host}:{port}"


def _address_list(value: Any, what: str) -> list[str]:
    """ "a:p,b:p", a list of "a:p", or a list of {host, port} tables ([[...]] in TOML)."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list of host:port")
    parts: list[Any] = []
    for item in value:
        parts.extend(split_list(item) if isinstance(item, str) else [item])
    return [_host_port(item, what) for item in parts]


class RedisHelperConfig(Section):
    """Backend.AI's ``redis_helper_config``: the timeouts of the Redis connection objects."""

    socket_timeout: float | None = Field(
        None,
        gt=0,
        le=600,
        description="Seconds a Redis command may take on the socket (default: none for the "
        "pub/sub channel, 5 s for commands).",
    )
    socket_connect_timeout: float = Field(2.0, gt=0, le=600, description="Seconds to connect to a Redis server.")
    reconnect_poll_timeout: float = Field(
        0.1,
        gt=0,
        le=60,
        description="Longest wait in seconds between the quick retries of a failed Redis command "
        "(each retry reconnects, through the Sentinels when there are some).",
    )
    connection_ready_timeout: float | None = Field(
        None,
        gt=0,
        description="Backend.AI's wait for a connection from a blocking pool: accepted, warned about and "
        "unused (webui-host's pools never block).",
    )


class RedisConfig(CompatSection):
    addr: str = Field(
        f"127.0.0.1:{EMBEDDED_REDIS_PORT}",
        description="Redis host:port (or a {host, port} table); unused with sentinel.",
    )
    db: int = Field(0, ge=0, le=15, description="Redis database number.")
    sentinel: list[str] = Field(
        default_factory=list,
        description='Redis Sentinels ("a:p,b:p", a list, or [[session.redis.sentinel]] host/port tables): the '
        "master of service_name is discovered through them and followed across failovers.",
    )
    service_name: str | None = Field(None, min_length=1, description="Sentinel's name of the monitored master.")
    password: str | None = Field(
        None,
        description="Backend.AI's single Redis password: webui-host authenticates to the Sentinels with it "
        "(unless sentinel_password is set); data connections log in as each process's own ACL user.",
    )
    sentinel_password: str | None = Field(None, description="Password of the Sentinels (default: password).")
    use_tls: bool = Field(False, description="Connect to Redis (and the Sentinels) over TLS.")
    tls_skip_verify: bool = Field(False, description="Do not verify the Redis server's TLS certificate.")
    tls_ca_file: Path | None = Field(
        None, description="PEM CA bundle verifying Redis's certificate (default: system CAs)."
    )
    tls_cert_file: Path | None = Field(None, description="PEM client certificate, when Redis asks for one.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    request_timeout: int | None = Field(
        None,
        gt=0,
        description="Backend.AI's per-request timeout in milliseconds: the commands' socket timeout "
        "unless redis_helper_config.socket_timeout is set.",
    )
    redis_helper_config: RedisHelperConfig = Field(
        default_factory=RedisHelperConfig, description="Timeouts of the Redis connections (Backend.AI's names)."
    )
    override_configs: dict[str, Any] = Field(
        default_factory=dict,
        description="Backend.AI's per-context Redis overrides: only an empty table is accepted "
        "(webui-host has one Redis context, the sessions).",
    )

    @field_check("addr", mode="before")
    def _addr(addr: Any) -> str:
        return _host_port(addr, "address")

    @field_check("sentinel", mode="before")
    def _sentinels(value: Any) -> list[str]:
        return [] if value is None else _address_list(value, "sentinel")

    @field_check("override_configs")
    def _no_overrides(value: dict[str, Any]) -> dict[str, Any]:
        if value:
            raise ValueError(
                "per-context overrides are not supported: webui-host keeps one Redis context "
                f"(the sessions); remove {', '.join(sorted(value))}"
            )
        return value

    @model_check
    def _sentinel_needs_service(self) -> RedisConfig:
        if self.sentinel and not self.service_name:
            raise ValueError("service_name is required with sentinel (Sentinel's name of the master)")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    @property
    def socket_timeout(self) -> float | None:
        helper = self.redis_helper_config.socket_timeout
        if helper is not None:
            return helper
        return self.request_timeout / 1000 if self.request_timeout is not None else None


class SessionConfig(CompatSection):
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Where sessions live.")
    max_age: int = Field(604800, ge=60, description="Idle seconds before a session expires (sliding).")
    login_block_time: int = Field(1200, ge=1, description="Window in seconds for counting failed logins.")
    login_allowed_fail_count: int = Field(10, ge=1, description="Failures in the window before 429.")
    cookie_name: str = Field("AIOHTTP_SESSION", description="Name of the session cookie.")
    touch_interval: float = Field(60.0, ge=0, description="Seconds between sliding-expiry refreshes of one session.")


class EtcdConfig(Section):
    addr: list[str] = Field(
        default_factory=lambda: [f"127.0.0.1:{EMBEDDED_ETCD_PORT}"],
        description='etcd endpoints: "a:p,b:p", a list of host:port, or {host, port} tables; a process uses '
        "one and moves to the next when it fails.",
    )
    namespace: str = Field("webui-host", description="Key prefix of everything we keep in etcd.")
    lease_ttl: int = Field(10, ge=2, le=300, description="Seconds an agent registration outlives its process.")
    user: str | None = Field(None, min_length=1, description="etcd user (authentication on), with password.")
    password: str | None = Field(None, description="Password of the etcd user.")
    ca_file: Path | None = Field(
        None,
        description="PEM CA bundle verifying the etcd members' certificates; setting it (or cert_file) turns TLS on.",
    )
    cert_file: Path | None = Field(None, description="PEM client certificate (etcd's --client-cert-auth).")
    key_file: Path | None = Field(None, description="PEM private key of cert_file.")
    use_tls: bool = Field(
        False, description="Speak TLS to etcd (implied by ca_file or cert_file; system CAs when ca_file is unset)."
    )
    tls_server_name: str | None = Field(
        None,
        description="Name the members' certificates are checked against when they are reached by IP "
        "(default: each endpoint's host).",
    )

    @field_check("addr", mode="before")
    def _endpoints(value: Any) -> list[str]:
        endpoints = _address_list(value, "endpoint")
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        return [endpoint.removeprefix("http://").removeprefix("https://") for endpoint in endpoints]

    @model_check
    def _pairs(self) -> EtcdConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def tls(self) -> bool:
        return self.use_tls or self.ca_file is not None or self.cert_file is not None
