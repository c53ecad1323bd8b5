"""The embedded Redis and etcd: what to run and with which settings (no I/O but finding the binaries and ``--version``).

The embedded servers exist for a single-host install that names no Redis or etcd of its own: both
listen on loopback only, Redis keeps its data in an append-only file (sessions survive a restart of
it), and Redis admits only the per-role ACL users of ``contract.redis_layout`` plus an admin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from contract.host_layout import REDIS_ADMIN
from contract.redis_layout import ROLES, acl_rules

LOOPBACK = "127.0.0.1"
ETCD_NAME = "webui-host"
# Raft timing of the one-member embedded etcd (ms). With no peer there is no election to lose and no
# heartbeat to miss, so the defaults (100/1000) only delay the first leadership, and with it the first
# answer of a fresh start, by ~0.6 s (leader 0.65 s after start with the defaults, 0.1 s with these).
ETCD_HEARTBEAT_MS = 10
ETCD_ELECTION_MS = 100
# The Redis release that introduced CLIENT SETINFO; older servers refuse to load an ACL naming it.
SETINFO_SINCE = (7, 2, 0)
ADMIN_RULES = "~* &* +@all"

_VERSION_RE = re.compile(r"\bv=(\d+)\.(\d+)\.(\d+)")
_PASSWORD_RE = re.compile(r"^[\x21-\x7e]+$")  # printable, no blanks: one token in redis.conf


def redis_binary() -> str | None:
    """The redis-server to run: on PATH, else /usr/bin's; None when it is not installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def etcd_binary() -> str | None:
    """The etcd to run: on PATH, else /usr/bin's; None when it is not installed."""
    return shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)


def parse_redis_version(version_output: str) -> tuple[int, int, int] | None:
    """``Redis server v=7.0.15 sha=...`` -> (7, 0, 15); None when it is not recognisable."""
    match = _VERSION_RE.search(version_output)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def redis_server_version(binary: str | Path = "redis-server") -> tuple[int, int, int] | None:
    """The version of a redis-server binary, or None when it cannot be run or read."""
    return redis_version_answer(ask_redis_version(binary))


def ask_redis_version(binary: str | Path = "redis-server") -> subprocess.Popen | None:
    """``redis-server --version`` started, not waited for (``redis_version_answer``): the launcher does
    other work meanwhile."""
    try:
        return subprocess.Popen([str(binary), "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except (OSError, subprocess.SubprocessError):
        return None


def redis_version_answer(probe: subprocess.Popen | None, timeout: float = 10.0) -> tuple[int, int, int] | None:
    if probe is None:
        return None
    try:
        output, _ = probe.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return None
    return parse_redis_version(output)


def knows_setinfo(version: tuple[int, int, int] | None) -> bool:
    """Whether the server accepts ``+client|setinfo`` in an ACL (Redis >= 7.2); unknown means no."""
    return version is not None and tuple(version) >= SETINFO_SINCE


def _check_password(role: str, password: str) -> str:
    if not _PASSWORD_RE.match(password):
        raise ValueError(f"the Redis password of {role!r} must be printable ASCII without blanks")
    return password


def acl_user_lines(passwords: Mapping[str, str], *, server_knows_setinfo: bool) -> list[str]:
    """One ``user`` directive per role of ``ROLES``, then the admin; the default user is off.

    ``passwords`` maps every role in ``ROLES`` and ``REDIS_ADMIN`` to its password.
    """
    missing = [role for role in (*ROLES, REDIS_ADMIN) if role not in passwords]
    if missing:
        raise ValueError(f"no Redis password for: {', '.join(missing)}")
    # Nobody can log in as ``default`` (off, no password), but Redis replays the append-only file as
    # that user and re-checks every MULTI/EXEC against its rules (redis/redis#14541): without write
    # rules, each transaction of the session daemon would be dropped at a restart, and the sessions
    # with them.
    lines = ["user default off resetpass resetkeys resetchannels -@all ~* +@write +multi +exec +select"]
    for role in ROLES:
        password = _check_password(role, passwords[role])
        lines.append(f"user {role} on >{password} {acl_rules(role, server_knows_setinfo=server_knows_setinfo)}")
    lines.append(f"user {REDIS_ADMIN} on >{_check_password(REDIS_ADMIN, passwords[REDIS_ADMIN])} {ADMIN_RULES}")
    return lines


def render_redis_conf(
    *,
    port: int,
    data_dir: Path,
    passwords: Mapping[str, str],
    server_knows_setinfo: bool,
    bind: str = LOOPBACK,
) -> str:
    """The text of the embedded redis.conf (foreground, logs to stdout for supervisord)."""
    data_dir_text = str(data_dir)
    if any(ch in data_dir_text for ch in '"\n\r\\'):
        raise ValueError(f"unsupported character in the Redis data directory {data_dir_text!r}")
    lines = [
        "# Rendered by webui-host for its embedded Redis; edits are overwritten at the next start.",
        f"bind {bind}",
        f"port {port}",
        "protected-mode yes",
        "daemonize no",
        "supervised no",
        'logfile ""',
        "loglevel notice",
        "databases 16",
        "# Sessions survive a restart of Redis (a restart must not log every user out): an",
        "# append-only file, fsynced every second; no RDB snapshots besides the AOF's own base.",
        'save ""',
        "appendonly yes",
        "appendfsync everysec",
        'appendfilename "appendonly.aof"',
        f'dir "{data_dir_text}"',
        "tcp-keepalive 60",
        "timeout 0",
        "# One ACL user per process role (contract.redis_layout); nobody else gets in.",
        *acl_user_lines(passwords, server_knows_setinfo=server_knows_setinfo),
    ]
    return "\n".join(lines) + "\n"


def etcd_peer_port(client_port: int) -> int:
    """The embedded etcd's peer port (single member, loopback): the port after the client port."""
    return client_port + 1


def etcd_command(
    *,
    data_dir: Path,
    client_port: int,
    peer_port: int | None = None,
    binary: str | Path = "etcd",
    name: str = ETCD_NAME,
    host: str = LOOPBACK,
) -> list[str]:
    """The argv of a one-member etcd on loopback, with its data in ``data_dir`` (0700)."""
    peer_port = etcd_peer_port(client_port) if peer_port is None else peer_port
    client_url = f"http://{host}:{client_port}"
    peer_url = f"http://{host}:{peer_port}"
    return [
        str(binary),
        "--name",
        name,
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        client_url,
        "--advertise-client-urls",
        client_url,
        "--listen-peer-urls",
        peer_url,
        "--initial-advertise-peer-urls",
        peer_url,
        "--initial-cluster",
        f"{name}={peer_url}",
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        name,
        "--auto-compaction-retention",
        "1",
        "--heartbeat-interval",
        str(ETCD_HEARTBEAT_MS),
        "--election-timeout",
        str(ETCD_ELECTION_MS),
        "--logger",
        "zap",
        "--log-outputs",
        "stderr",
    ]
