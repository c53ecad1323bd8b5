"""The sections of the configuration model (``contract.config.Config``), one class per TOML table."""

from __future__ import annotations

import importlib.resources
import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.csp import merge_policy
from contract.hosts import public_hosts_problem
from contract.origins import parse_allowed_origin

# Our own placeholder site ships inside the frontdoor package (package data), so an installed wheel
# serves it wherever site-packages is; never a path of the checkout.
DEFAULT_STATIC_PATH = Path(str(importlib.resources.files("frontdoor") / "static"))
# The devstack, Redis and etcd ports of Backend.AI's "halfstack", so habits carry over.
EMBEDDED_MANAGER_PORT = 8091
EMBEDDED_REDIS_PORT = 8111
EMBEDDED_ETCD_PORT = 8121


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "webui-host"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class _CompatSection(BaseModel):
    """A section shared with Backend.AI's webserver.conf: its other keys are kept, not refused."""

    model_config = ConfigDict(extra="allow", validate_default=True)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServiceConfig(_CompatSection):
    ip: str = Field("127.0.0.1", description="Address the front door listens on.")
    port: int = Field(8090, ge=1, le=65535, description="Public HTTP(S) port of the front door.")
    ssl_enabled: bool = Field(False, description="Serve HTTPS with ssl_cert and ssl_privkey.")
    ssl_cert: Path | None = Field(None, description="PEM certificate chain for HTTPS.")
    ssl_privkey: Path | None = Field(None, description="PEM private key for HTTPS.")
    static_path: Path = Field(DEFAULT_STATIC_PATH, description="Directory of the web UI files.")
    mode: Literal["webui", "static"] = Field(
        "webui", description="webui: unknown GET paths fall back to index.html; static: plain files."
    )
    workers: int = Field(2, ge=1, le=64, description="Front-door processes sharing the port (SO_REUSEPORT).")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Peer IPs or CIDR networks whose X-Forwarded-For/-Proto is believed (e.g. an ingress).",
    )

    public_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (name, or name:port for one port only) browsers reach the front door by; "
        "requests with another Host get 421. Loopback and [service] ip are always accepted.",
    )

    enable_signup: bool = Field(
        False, description="Let visitors sign up: POST /func/auth/signup is served anonymously (through the "
        "session daemon, secret key stripped) and config.toml's signupSupport is true.",
    )

    _split = field_validator("trusted_proxies", "public_hosts", mode="before")(_split_list)

    @field_validator("public_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        problem = public_hosts_problem(hosts)
        if problem is not None:
            raise ValueError(problem)
        return hosts

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        # Refused here, by name: an entry that matches nothing would silently trust no proxy.
        bad = []
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                bad.append(entry)
        if bad:
            raise ValueError("not an IP address or CIDR network: " + ", ".join(repr(entry) for entry in bad))
        return value


class ApiConfig(_CompatSection):
    domain: str = Field("default", description="Backend.AI domain sent at login and in X-BackendAI-Domain.")
    endpoint: list[str] = Field(
        default_factory=list,
        description="Manager URLs (list or comma-separated). Empty: etcd, then the embedded devstack.",
    )
    text: str = Field("Backend.AI", description="Display name of the API endpoint in the web UI.")
    ssl_verify: bool = Field(True, description="Verify the Manager's TLS certificate.")
    default_version: str = Field(
        "v7.20230615", description="X-BackendAI-Version used when the browser sends none."
    )
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect to the Manager.")
    response_timeout: float = Field(
        300.0, gt=0, description="Seconds the Manager may take to answer after the request body is sent (504)."
    )
    graphql_paths: list[str] = Field(
        default_factory=lambda: ["admin/gql", "admin/graphql"],
        description="Paths under /func/ that also carry the X-BackendAI-Token JWT.",
    )
    jwt_expiration: int = Field(900, ge=60, le=86400, description="Lifetime of a GraphQL JWT in seconds.")
    connection_limit: int = Field(
        1000, ge=1, le=100_000,
        description="Upstream connections per front-door worker for ordinary requests; WebSockets have "
                    "their own, bounded by security.websocket_max_per_worker.",
    )
    endpoint_policy: Literal["round_robin", "least_connections"] = Field(
        "round_robin", description="How requests are spread over the healthy Manager endpoints.")
    health_check_interval: float = Field(
        5.0, ge=0, description="Seconds between active probes of every upstream endpoint (0: passive checks only).")
    health_check_probe_path: str = Field(
        "/", pattern=r"^/[^\s?#]*$",
        description="Path of the Manager endpoints' probe (Backend.AI's default is /health/readyz on 26.x Managers); "
        "any answer below 500 counts as alive.")
    health_check_probe_timeout: float = Field(2.0, gt=0, le=60, description="Seconds one probe may take.")
    unhealthy_after: int = Field(
        2, ge=1, le=100, description="Consecutive failures (requests or probes) that take an endpoint out of use.")
    auth_token_name: str = Field(
        "sToken", min_length=1,
        description="Name of the single sign-on token (a body field or cookie) /server/token-login passes to "
        "the Manager's authorize hook.",
    )

    _split = field_validator("endpoint", "graphql_paths", mode="before")(_split_list)

    @field_validator("endpoint")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return [url.rstrip("/") for url in urls]

    @field_validator("graphql_paths")
    @classmethod
    def _strip_slashes(cls, paths: list[str]) -> list[str]:
        return [p.strip("/") for p in paths]


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
    """"a:p,b:p", a list of "a:p", or a list of {host, port} tables ([[...]] in TOML)."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list of host:port")
    parts: list[Any] = []
    for item in value:
        parts.extend(_split_list(item) if isinstance(item, str) else [item])
    return [_host_port(item, what) for item in parts]


class RedisHelperConfig(_Section):
    """Backend.AI's ``redis_helper_config``: the timeouts of the Redis connection objects."""

    socket_timeout: float | None = Field(
        None, gt=0, le=600, description="Seconds a Redis command may take on the socket (default: none for the "
        "pub/sub channel, 5 s for commands).")
    socket_connect_timeout: float = Field(2.0, gt=0, le=600, description="Seconds to connect to a Redis server.")
    reconnect_poll_timeout: float = Field(
        0.1, gt=0, le=60, description="Longest wait in seconds between the quick retries of a failed Redis command "
        "(each retry reconnects, through the Sentinels when there are some).")
    connection_ready_timeout: float | None = Field(
        None, gt=0, description="Backend.AI's wait for a connection from a blocking pool: accepted, warned about and "
        "unused (webui-host's pools never block).")


class RedisConfig(_CompatSection):
    addr: str = Field(f"127.0.0.1:{EMBEDDED_REDIS_PORT}",
                      description="Redis host:port (or a {host, port} table); unused with sentinel.")
    db: int = Field(0, ge=0, le=15, description="Redis database number.")
    sentinel: list[str] = Field(
        default_factory=list,
        description="Redis Sentinels (\"a:p,b:p\", a list, or [[session.redis.sentinel]] host/port tables): the "
        "master of service_name is discovered through them and followed across failovers.")
    service_name: str | None = Field(None, min_length=1, description="Sentinel's name of the monitored master.")
    password: str | None = Field(
        None, description="Backend.AI's single Redis password: webui-host authenticates to the Sentinels with it "
        "(unless sentinel_password is set); data connections log in as each process's own ACL user.")
    sentinel_password: str | None = Field(None, description="Password of the Sentinels (default: password).")
    use_tls: bool = Field(False, description="Connect to Redis (and the Sentinels) over TLS.")
    tls_skip_verify: bool = Field(False, description="Do not verify the Redis server's TLS certificate.")
    tls_ca_file: Path | None = Field(None, description="PEM CA bundle verifying Redis's certificate (default: system CAs).")
    tls_cert_file: Path | None = Field(None, description="PEM client certificate, when Redis asks for one.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    request_timeout: int | None = Field(
        None, gt=0, description="Backend.AI's per-request timeout in milliseconds: the commands' socket timeout "
        "unless redis_helper_config.socket_timeout is set.")
    redis_helper_config: RedisHelperConfig = Field(
        default_factory=RedisHelperConfig, description="Timeouts of the Redis connections (Backend.AI's names).")
    override_configs: dict[str, Any] = Field(
        default_factory=dict, description="Backend.AI's per-context Redis overrides: only an empty table is accepted "
        "(webui-host has one Redis context, the sessions).")

    @field_validator("addr", mode="before")
    @classmethod
    def _addr(cls, addr: Any) -> str:
        return _host_port(addr, "address")

    @field_validator("sentinel", mode="before")
    @classmethod
    def _sentinels(cls, value: Any) -> list[str]:
        return [] if value is None else _address_list(value, "sentinel")

    @field_validator("override_configs")
    @classmethod
    def _no_overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value:
            raise ValueError("per-context overrides are not supported: webui-host keeps one Redis context "
                             f"(the sessions); remove {', '.join(sorted(value))}")
        return value

    @model_validator(mode="after")
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


class SessionConfig(_CompatSection):
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Where sessions live.")
    max_age: int = Field(604800, ge=60, description="Idle seconds before a session expires (sliding).")
    login_block_time: int = Field(1200, ge=1, description="Window in seconds for counting failed logins.")
    login_allowed_fail_count: int = Field(10, ge=1, description="Failures in the window before 429.")
    cookie_name: str = Field("AIOHTTP_SESSION", description="Name of the session cookie.")
    touch_interval: float = Field(
        60.0, ge=0, description="Seconds between sliding-expiry refreshes of one session."
    )


class SignersConfig(_Section):
    count: int = Field(2, ge=1, le=64, description="Signer worker processes started on this host.")
    group: str = Field("DEFAULT", description="Web API Group serving the built-in Manager deployment (/func).")
    request_timeout: float = Field(1.0, gt=0, description="Seconds to wait for one signer's answer.")
    max_attempts: int = Field(3, ge=1, le=10, description="Signers tried before answering 503.")
    pool_wait: float = Field(
        5.0, ge=0, le=60,
        description="Seconds a request waits for an Up signer when its group has none (e.g. while the pool restarts).",
    )


class ZmqConfig(_Section):
    ipc_dir: Path | None = Field(None, description="0700 directory of the ipc sockets (default state_dir/ipc).")
    max_message_age: float = Field(10.0, gt=0, description="Seconds a signed message stays valid.")


class EtcdConfig(_Section):
    addr: list[str] = Field(
        default_factory=lambda: [f"127.0.0.1:{EMBEDDED_ETCD_PORT}"],
        description="etcd endpoints: \"a:p,b:p\", a list of host:port, or {host, port} tables; a process uses "
        "one and moves to the next when it fails.")
    namespace: str = Field("webui-host", description="Key prefix of everything we keep in etcd.")
    lease_ttl: int = Field(10, ge=2, le=300, description="Seconds an agent registration outlives its process.")
    user: str | None = Field(None, min_length=1, description="etcd user (authentication on), with password.")
    password: str | None = Field(None, description="Password of the etcd user.")
    ca_file: Path | None = Field(None, description="PEM CA bundle verifying the etcd members' certificates; "
                                 "setting it (or cert_file) turns TLS on.")
    cert_file: Path | None = Field(None, description="PEM client certificate (etcd's --client-cert-auth).")
    key_file: Path | None = Field(None, description="PEM private key of cert_file.")
    use_tls: bool = Field(False, description="Speak TLS to etcd (implied by ca_file or cert_file; system CAs "
                          "when ca_file is unset).")
    tls_server_name: str | None = Field(
        None, description="Name the members' certificates are checked against when they are reached by IP "
        "(default: each endpoint's host).")

    @field_validator("addr", mode="before")
    @classmethod
    def _endpoints(cls, value: Any) -> list[str]:
        endpoints = _address_list(value, "endpoint")
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        return [endpoint.removeprefix("http://").removeprefix("https://") for endpoint in endpoints]

    @model_validator(mode="after")
    def _pairs(self) -> EtcdConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def tls(self) -> bool:
        return self.use_tls or self.ca_file is not None or self.cert_file is not None


class RuntimeConfig(_Section):
    state_dir: Path = Field(default_factory=default_state_dir, description="Sockets, secrets, embedded data.")
    secrets_dir: Path | None = Field(None, description="0700 directory of key files (default state_dir/secrets).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log threshold.")
    log_format: Literal["json", "text"] = Field("json", description="json lines, or text for a terminal.")


class OpsConfig(_Section):
    ip: str = Field("127.0.0.1", description="Address of the ops listener (/metrics, /livez, /readyz); keep it private.")
    port: int = Field(
        8092, ge=1, le=65535, description="Port of the ops listener, shared by every front-door worker (SO_REUSEPORT)."
    )
    drain_timeout: float = Field(
        25.0, gt=0, le=3600,
        description="Seconds after SIGTERM for in-flight requests and WebSockets to finish before the front door exits.",
    )
    unready_delay: float = Field(
        0.0, ge=0, le=60,
        description="Seconds between answering not-ready and closing the public listener, so balancers notice.",
    )


class WebApiConfig(_Section):
    endpoint_admins: list[str] = Field(
        default_factory=list,
        description="Who besides superadmins may define Web API Groups and shut down agents: "
        "'user:<email>' or 'role:<role>' entries.",
    )
    identity_issuer: str = Field(
        "webui-host", min_length=1, max_length=255,
        description="The 'iss' claim of identity assertions sent to deployments with signing 'identity'.",
    )
    identity_lifetime: int = Field(
        60, ge=10, le=3600,
        description="Seconds an identity assertion stays valid (a fresh one is minted for every request).",
    )

    _split = field_validator("endpoint_admins", mode="before")(_split_list)

    @field_validator("endpoint_admins")
    @classmethod
    def _subjects(cls, subjects: list[str]) -> list[str]:
        for subject in subjects:
            kind, _, value = subject.partition(":")
            if kind not in ("user", "role") or not value:
                raise ValueError(f"{subject!r} is not 'user:<email>' or 'role:<role>'")
        return subjects


DEFAULT_CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class RateLimitConfig(_Section):
    enabled: bool = Field(True, description="Limit proxied requests per access key (counted in Redis, in batches).")
    requests: int = Field(
        3000, ge=1, description="Proxied requests an access key may make per window, all front doors together."
    )
    window: int = Field(60, ge=1, le=86400, description="Length of the sliding window in seconds.")
    sync_interval: float = Field(
        0.1, gt=0, le=10, description="Seconds between syncs of the access-key counters with Redis (a front door "
        "may overshoot the limit by its own rate times this)."
    )
    role_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Per-role requests per window overriding 'requests' (e.g. {monitor = 600}); 0 means unlimited.",
    )
    login_requests: int = Field(
        30, ge=1, description="Login and password requests one client IP may make per window, all front doors together."
    )

    @field_validator("role_limits")
    @classmethod
    def _non_negative(cls, limits: dict[str, int]) -> dict[str, int]:
        for role, limit in limits.items():
            if limit < 0:
                raise ValueError(f"the limit of role {role!r} must be 0 (unlimited) or more")
        return limits


# Backend.AI's [security] policy names (its webserver refuses any other name at start).
REQUEST_POLICIES = frozenset({"reject_metadata_local_link_policy", "reject_access_for_unsafe_file_policy"})
RESPONSE_POLICIES = frozenset({"set_content_type_nosniff_policy"})


class SecurityConfig(_CompatSection):
    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Other origins whose pages may call the API with the user's cookie: exact "
        "(https://app.example.com) or subdomains (https://*.example.com).",
    )
    cors_max_age: int = Field(600, ge=0, le=86400, description="Seconds a browser may cache a CORS preflight answer.")
    content_security_policy: str = Field(
        DEFAULT_CSP, description="Content-Security-Policy of our HTML pages; {nonce} becomes the per-request nonce."
    )
    hsts_max_age: int = Field(
        31536000, ge=0, description="Strict-Transport-Security max-age sent over HTTPS (0: no HSTS header)."
    )
    http_redirect_port: int | None = Field(
        None, ge=1, le=65535, description="With ssl_enabled, a plain-HTTP port that redirects to HTTPS (none if unset)."
    )
    max_header_size: int = Field(
        8190, ge=1024, le=65536, description="Longest request line or header field in bytes; longer requests get 400."
    )
    max_headers: int = Field(100, ge=16, le=1000, description="Most header fields one request may carry.")
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig, description="Request rate limits.")
    # Bounds one client cannot push past: Web UI terminals and app streams send small frames, so
    # 16 MiB leaves room for pasted files while one message can no longer take a worker's memory.
    websocket_max_message_size: int = Field(
        16 << 20, ge=4096, le=1 << 30,
        description="Largest WebSocket message relayed, either way, in bytes; a larger one closes the socket with 1009.",
    )
    websocket_max_per_session: int = Field(
        32, ge=1, description="Open WebSockets one session may have per worker (429 past it)."
    )
    websocket_max_per_worker: int = Field(
        1000, ge=1, description="Open WebSockets one front-door worker relays (503 past it)."
    )
    header_read_timeout: float = Field(
        15.0, gt=0, le=600, description="Seconds a new connection has to send the headers of its first request."
    )
    keepalive_timeout: float = Field(
        75.0, gt=0, le=3600,
        description="Seconds an idle connection stays open (after an answer, or when it sends nothing at all); "
        "a half-sent request counts as idle.",
    )
    request_policies: list[str] = Field(
        default_factory=list,
        description="Backend.AI's request policies: reject_metadata_local_link_policy (403 for cloud metadata "
        "host names), reject_access_for_unsafe_file_policy (403 for .git, .svn, .hg, .bzr, ._darcs, BitKeeper, "
        ".bak, .log as the last path segment).",
    )
    response_policies: list[str] = Field(
        default_factory=list,
        description="Backend.AI's response policies: set_content_type_nosniff_policy (webui-host always sends "
        "X-Content-Type-Options: nosniff).",
    )
    cookie_secure: bool | None = Field(
        None, description="Backend.AI's Secure flag of the session cookie: true always sets it, false never "
        "(plain-HTTP development); unset, it is set whenever the browser uses HTTPS (here or at a trusted proxy).",
    )
    csp: dict[str, Any] | None = Field(
        None,
        description="Backend.AI's [security.csp] table (directive = [sources]): its sources are added to "
        "content_security_policy for the web UI's pages, e.g. connect-src = [\"'self'\", \"https://wsproxy:5050\"].",
    )

    _split = field_validator("cors_allowed_origins", mode="before")(_split_list)

    @field_validator("request_policies", "response_policies")
    @classmethod
    def _known_policies(cls, names: list[str], info) -> list[str]:
        known = REQUEST_POLICIES if info.field_name == "request_policies" else RESPONSE_POLICIES
        for name in names:
            if name not in known:
                raise ValueError(f"unknown security policy {name!r} (known: {', '.join(sorted(known))})")
        return names

    @property
    def page_policy(self) -> str:
        """The CSP of our HTML pages and the hosted bundle's: ours, with [security.csp]'s sources added."""
        return merge_policy(self.content_security_policy, self.csp)

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return [str(parse_allowed_origin(origin)) for origin in origins]

    @field_validator("content_security_policy")
    @classmethod
    def _one_line(cls, policy: str) -> str:
        if any(ch in policy for ch in "\r\n\0"):
            raise ValueError("the policy must be one line")
        return policy


class EmbeddedConfig(_Section):
    redis_port: int = Field(EMBEDDED_REDIS_PORT, ge=1, le=65535, description="Port of the embedded Redis.")
    etcd_port: int = Field(EMBEDDED_ETCD_PORT, ge=1, le=65535, description="Client port of the embedded etcd.")
    manager_port: int = Field(EMBEDDED_MANAGER_PORT, ge=1, le=65535, description="Port of the devstack Manager.")
