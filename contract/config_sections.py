"""The sections of the configuration model (``contract.config.Config``), one class per TOML table."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from contract.csp import merge_policy
from contract.fields import Field, Model, field_check
from contract.hosts import public_hosts_problem
from contract.origins import parse_allowed_origin


def _package_dir(name: str) -> Path:
    """Where a package's files are, found without importing it; not ``importlib.resources``, which
    brings tempfile, shutil and the compression modules into the signers and the daemon (~6 ms)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations)))


# Our own placeholder site ships inside the frontdoor package (package data), so an installed wheel
# serves it wherever site-packages is; never a path of the checkout.
DEFAULT_STATIC_PATH = _package_dir("frontdoor") / "static"
# The devstack, Redis and etcd ports of Backend.AI's "halfstack", so habits carry over.
EMBEDDED_MANAGER_PORT = 8091
EMBEDDED_REDIS_PORT = 8111
EMBEDDED_ETCD_PORT = 8121


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "webui-host"


class Section(Model, extra="forbid"):
    """A section of ours: a key it does not have is refused by name."""


class CompatSection(Model, extra="allow"):
    """A section shared with Backend.AI's webserver.conf: its other keys are kept, not refused."""


def manager_url_problem(url: str) -> str | None:
    """Why a Manager endpoint URL cannot be used, or None.  Credentials in it are refused by name: no
    client of ours sends them (the Manager authenticates each request by its signature), and a query
    or fragment would be glued to every signed path."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return f"{url!r} is not an http(s) URL"
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        return "a Manager endpoint may not carry a user or password (requests are signed instead)"
    if not authority.split("?", 1)[0].split("#", 1)[0]:
        return f"{url!r} names no host"
    if "?" in rest or "#" in rest:
        return f"{url!r} has a query or fragment; give the Manager's base URL only"
    return None


def split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServiceConfig(CompatSection):
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
        False,
        description="Let visitors sign up: POST /func/auth/signup is served anonymously (through the "
        "session daemon, secret key stripped) and config.toml's signupSupport is true.",
    )

    _split = field_check("trusted_proxies", "public_hosts", mode="before")(split_list)

    @field_check("public_hosts")
    def _hosts(hosts: list[str]) -> list[str]:
        problem = public_hosts_problem(hosts)
        if problem is not None:
            raise ValueError(problem)
        return hosts

    @field_check("trusted_proxies")
    def _networks(value: list[str]) -> list[str]:
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


class ApiConfig(CompatSection):
    domain: str = Field("default", description="Backend.AI domain sent at login and in X-BackendAI-Domain.")
    endpoint: list[str] = Field(
        default_factory=list,
        description="Manager URLs (list or comma-separated). Empty: etcd, then the embedded devstack.",
    )
    text: str = Field("Backend.AI", description="Display name of the API endpoint in the web UI.")
    ssl_verify: bool = Field(True, description="Verify the Manager's TLS certificate.")
    default_version: str = Field("v7.20230615", description="X-BackendAI-Version used when the browser sends none.")
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
        1000,
        ge=1,
        le=100_000,
        description="Upstream connections per front-door worker for ordinary requests; WebSockets have "
        "their own, bounded by security.websocket_max_per_worker.",
    )
    endpoint_policy: Literal["round_robin", "least_connections"] = Field(
        "round_robin", description="How requests are spread over the healthy Manager endpoints."
    )
    health_check_interval: float = Field(
        5.0, ge=0, description="Seconds between active probes of every upstream endpoint (0: passive checks only)."
    )
    health_check_probe_path: str = Field(
        "/",
        pattern=r"^/[^\s?#]*$",
        description="Path of the Manager endpoints' probe (Backend.AI's default is /health/readyz on 26.x Managers); "
        "any answer below 500 counts as alive.",
    )
    health_check_probe_timeout: float = Field(2.0, gt=0, le=60, description="Seconds one probe may take.")
    unhealthy_after: int = Field(
        2, ge=1, le=100, description="Consecutive failures (requests or probes) that take an endpoint out of use."
    )
    auth_token_name: str = Field(
        "sToken",
        min_length=1,
        description="Name of the single sign-on token (a body field or cookie) /server/token-login passes to "
        "the Manager's authorize hook.",
    )

    _split = field_check("endpoint", "graphql_paths", mode="before")(split_list)

    @field_check("endpoint")
    def _urls(urls: list[str]) -> list[str]:
        for url in urls:
            problem = manager_url_problem(url)
            if problem:
                raise ValueError(problem)
        return [url.rstrip("/") for url in urls]

    @field_check("graphql_paths")
    def _strip_slashes(paths: list[str]) -> list[str]:
        return [p.strip("/") for p in paths]


class SignersConfig(Section):
    count: int = Field(2, ge=1, le=64, description="Signer worker processes started on this host.")
    group: str = Field("DEFAULT", description="Web API Group serving the built-in Manager deployment (/func).")
    request_timeout: float = Field(1.0, gt=0, description="Seconds to wait for one signer's answer.")
    max_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="Signers that time out tried before answering 503 (one that went away is waited for instead).",
    )
    pool_wait: float = Field(
        # Above the time a whole pool takes to come back (kill -9 or `restart signers:*`): 2-5 s on a
        # 2-vCPU host under load, ~10 s if other work shares the CPUs (mostly Python start-up).
        10.0,
        ge=0,
        le=60,
        description="Seconds a request waits for an Up signer when its group has none (e.g. while the pool restarts).",
    )


class ZmqConfig(Section):
    ipc_dir: Path | None = Field(None, description="0700 directory of the ipc sockets (default state_dir/ipc).")
    max_message_age: float = Field(10.0, gt=0, description="Seconds a signed message stays valid.")


class RuntimeConfig(Section):
    state_dir: Path = Field(default_factory=default_state_dir, description="Sockets, secrets, embedded data.")
    secrets_dir: Path | None = Field(None, description="0700 directory of key files (default state_dir/secrets).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log threshold.")
    log_format: Literal["json", "text"] = Field("json", description="json lines, or text for a terminal.")


class OpsConfig(Section):
    ip: str = Field(
        "127.0.0.1", description="Address of the ops listener (/metrics, /livez, /readyz); keep it private."
    )
    port: int = Field(
        8092, ge=1, le=65535, description="Port of the ops listener, shared by every front-door worker (SO_REUSEPORT)."
    )
    drain_timeout: float = Field(
        25.0,
        gt=0,
        le=3600,
        description="Seconds after SIGTERM for in-flight requests and WebSockets to finish before the front door exits.",
    )
    unready_delay: float = Field(
        0.0,
        ge=0,
        le=60,
        description="Seconds between answering not-ready and closing the public listener, so balancers notice.",
    )


class WebApiConfig(Section):
    endpoint_admins: list[str] = Field(
        default_factory=list,
        description="Who besides superadmins may define Web API Groups and shut down agents: "
        "'user:<email>' or 'role:<role>' entries.",
    )
    identity_issuer: str = Field(
        "webui-host",
        min_length=1,
        max_length=255,
        description="The 'iss' claim of identity assertions sent to deployments with signing 'identity'.",
    )
    identity_lifetime: int = Field(
        60,
        ge=10,
        le=3600,
        description="Seconds an identity assertion stays valid (a fresh one is minted for every request).",
    )

    _split = field_check("endpoint_admins", mode="before")(split_list)

    @field_check("endpoint_admins")
    def _subjects(subjects: list[str]) -> list[str]:
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


class RateLimitConfig(Section):
    enabled: bool = Field(True, description="Limit proxied requests per access key (counted in Redis, in batches).")
    requests: int = Field(
        3000, ge=1, description="Proxied requests an access key may make per window, all front doors together."
    )
    window: int = Field(60, ge=1, le=86400, description="Length of the sliding window in seconds.")
    sync_interval: float = Field(
        0.1,
        gt=0,
        le=10,
        description="Seconds between syncs of the access-key counters with Redis (a front door "
        "may overshoot the limit by its own rate times this).",
    )
    role_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Per-role requests per window overriding 'requests' (e.g. {monitor = 600}); 0 means unlimited.",
    )
    login_requests: int = Field(
        30, ge=1, description="Login and password requests one client IP may make per window, all front doors together."
    )

    @field_check("role_limits")
    def _non_negative(limits: dict[str, int]) -> dict[str, int]:
        for role, limit in limits.items():
            if limit < 0:
                raise ValueError(f"the limit of role {role!r} must be 0 (unlimited) or more")
        return limits


# Backend.AI's [security] policy names (its webserver refuses any other name at start).
REQUEST_POLICIES = frozenset({"reject_metadata_local_link_policy", "reject_access_for_unsafe_file_policy"})
RESPONSE_POLICIES = frozenset({"set_content_type_nosniff_policy"})


class SecurityConfig(CompatSection):
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
        16 << 20,
        ge=4096,
        le=1 << 30,
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
        75.0,
        gt=0,
        le=3600,
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
        None,
        description="Backend.AI's Secure flag of the session cookie: true always sets it, false never "
        "(plain-HTTP development); unset, it is set whenever the browser uses HTTPS (here or at a trusted proxy).",
    )
    csp: dict[str, Any] | None = Field(
        None,
        description="Backend.AI's [security.csp] table (directive = [sources]): its sources are added to "
        'content_security_policy for the web UI\'s pages, e.g. connect-src = ["\'self\'", "https://wsproxy:5050"].',
    )

    _split = field_check("cors_allowed_origins", mode="before")(split_list)

    @field_check("request_policies", "response_policies")
    def _known_policies(names: list[str], info) -> list[str]:
        known = REQUEST_POLICIES if info.field_name == "request_policies" else RESPONSE_POLICIES
        for name in names:
            if name not in known:
                raise ValueError(f"unknown security policy {name!r} (known: {', '.join(sorted(known))})")
        return names

    @property
    def page_policy(self) -> str:
        """The CSP of our HTML pages and the hosted bundle's: ours, with [security.csp]'s sources added."""
        return merge_policy(self.content_security_policy, self.csp)

    @field_check("cors_allowed_origins")
    def _origins(origins: list[str]) -> list[str]:
        return [str(parse_allowed_origin(origin)) for origin in origins]

    @field_check("content_security_policy")
    def _one_line(policy: str) -> str:
        if any(ch in policy for ch in "\r\n\0"):
            raise ValueError("the policy must be one line")
        return policy


class EmbeddedConfig(Section):
    redis_port: int = Field(EMBEDDED_REDIS_PORT, ge=1, le=65535, description="Port of the embedded Redis.")
    etcd_port: int = Field(EMBEDDED_ETCD_PORT, ge=1, le=65535, description="Client port of the embedded etcd.")
    manager_port: int = Field(EMBEDDED_MANAGER_PORT, ge=1, le=65535, description="Port of the devstack Manager.")
