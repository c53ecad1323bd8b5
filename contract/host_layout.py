"""Where each process finds its sockets and key files, given the configuration (names only, no I/O)."""

from __future__ import annotations

from pathlib import Path

from contract.config import Config

# Set by `webui-host run` for its processes when it starts the development Manager itself.
DEVSTACK_ENDPOINT_ENV = "WEBUI_HOST_DEVSTACK_ENDPOINT"
# Set by the launcher for the front door: the seconds of [ops] unready_delay + drain_timeout that
# supervisord's stop wait (stopwaitsecs, read once at its start) covers before it kills the worker.
DRAIN_BUDGET_ENV = "WEBUI_HOST_DRAIN_BUDGET"
ZMQ_KEY_FILE = "zmq.key"
AT_REST_KEY_FILE = "at-rest.key"
REDIS_ADMIN = "admin"


def redis_password_file(secrets_dir: Path, role: str) -> Path:
    return secrets_dir / f"redis-{role}.password"


def signer_endpoint(config: Config, agent_id: str) -> str:
    return f"ipc://{config.ipc_dir / ('signer-' + agent_id + '.sock')}"


def session_daemon_endpoint(config: Config) -> str:
    return f"ipc://{config.ipc_dir / 'session-daemon.sock'}"
