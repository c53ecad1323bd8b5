"""What a valid configuration can still get wrong on this host, checked before anything starts."""

from __future__ import annotations

import errno
import socket

from contract.config import Config
from webui_host import embedded


def check_problems(config: Config) -> list[str]:
    """What a valid file can still get wrong on this host: missing files, binaries, clashing ports."""
    problems = []
    service = config.service
    if service.ssl_enabled:
        for key in ("ssl_cert", "ssl_privkey"):
            path = getattr(service, key)
            if path is not None and not path.is_file():
                problems.append(f"service.{key}: {path} is not a file")
    # TLS material of an external Redis and etcd: a missing file would only show as a failed handshake.
    files = []
    if not config.embeds_redis:
        redis = config.session.redis
        files += [
            (f"session.redis.{key}", getattr(redis, key)) for key in ("tls_ca_file", "tls_cert_file", "tls_key_file")
        ]
    if not config.embeds_etcd:
        files += [(f"etcd.{key}", getattr(config.etcd, key)) for key in ("ca_file", "cert_file", "key_file")]
    for key, path in files:
        if path is not None and not path.is_file():
            problems.append(f"{key}: {path} is not a file")
    if "%" in str(config.runtime.state_dir):
        # supervisor expands stdout_logfile twice, so no escaping of '%' survives in log paths.
        problems.append(f"runtime.state_dir: {config.runtime.state_dir} contains '%', which supervisord cannot take")
    if not service.static_path.is_dir():
        problems.append(f"service.static_path: {service.static_path} is not a directory")
    if config.embeds_redis and embedded.redis_binary() is None:
        problems.append("session.redis: no Redis is named and redis-server is not installed (scripts/setup)")
    if config.embeds_etcd and embedded.etcd_binary() is None:
        problems.append("etcd.addr: no etcd is named and etcd is not installed (scripts/setup)")
    seen: dict[int, str] = {}
    for owner, (_host, port) in listen_ports(config, devstack=None).items():
        if port in seen:
            problems.append(f"port {port} is wanted by both {seen[port]} and {owner}")
        seen.setdefault(port, owner)
    return problems


def listen_ports(config: Config, *, devstack: bool | None) -> dict[str, tuple[str, int]]:
    """The ports this host will listen on, by owner (devstack=None: count it if it may run)."""
    ports = {"frontdoor": (config.service.ip, config.service.port), "ops": (config.ops.ip, config.ops.port)}
    if config.embeds_redis:
        ports["redis"] = (embedded.LOOPBACK, config.embedded.redis_port)
    if config.embeds_etcd:
        ports["etcd"] = (embedded.LOOPBACK, config.embedded.etcd_port)
        ports["etcd peer"] = (embedded.LOOPBACK, embedded.etcd_peer_port(config.embedded.etcd_port))
    if devstack or (devstack is None and not config.api.endpoint):
        ports["devstack"] = (embedded.LOOPBACK, config.embedded.manager_port)
    return ports


def busy_ports(ports: dict[str, tuple[str, int]]) -> list[str]:
    """Which of the ports someone else already listens on."""
    problems = []
    for owner, (host, port) in ports.items():
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                problems.append(f"{owner}: cannot listen on {host}:{port}: {reason}")
    return problems
