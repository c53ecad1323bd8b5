"""The configuration as the processes will see it, and the state directory laid out for it.

``resolve`` loads the file (or the embedded default) and applies ``--state-dir``; ``prepare`` creates
what every process expects before anything starts: 0700 directories, secrets, supervisord's password,
the effective config file and the embedded redis.conf.
"""

from __future__ import annotations

import copy
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.config import Config, ConfigError, parse_config
from contract.host_layout import REDIS_ADMIN
from contract.redis_layout import ROLES
from service_runtime.config_file import read_config_file
from service_runtime.keyfiles import ensure_private_dir, ensure_secrets, read_redis_password
from service_runtime.metrics import wipe_metrics_dir
from webui_host import embedded
from webui_host.toml_writer import dump_toml

SUPERVISOR_PASSWORD_FILE = "supervisor.password"
EFFECTIVE_CONFIG_FILE = "webui-host.toml"


@dataclass
class Setup:
    config: Config
    config_path: Path | None  # the user's file (absolute), or None for the embedded default
    state_dir: Path  # absolute
    effective_raw: dict[str, Any] | None = None  # set when --state-dir overrides the file's state_dir

    @property
    def process_config_path(self) -> Path | None:
        """What the processes get with -f."""
        if self.effective_raw is not None:
            return self.state_dir / EFFECTIVE_CONFIG_FILE
        return self.config_path

    @property
    def raw(self) -> dict[str, Any]:
        return self.effective_raw if self.effective_raw is not None else read_config_file(self.config_path)


def resolve(config_path: Path | str | None, state_dir: Path | str | None = None) -> Setup:
    """Load the file (ConfigError lists every problem); --state-dir replaces [runtime] state_dir."""
    path = Path(config_path).absolute() if config_path is not None else None
    raw = read_config_file(path)
    config = parse_config(raw)
    file_state = config.runtime.state_dir.absolute()
    if state_dir is None or Path(state_dir).absolute() == file_state:
        return Setup(config, path, file_state)
    wanted = Path(state_dir).absolute()
    effective = copy.deepcopy(raw)
    runtime = effective.setdefault("runtime", {})
    if not isinstance(runtime, dict):  # pragma: no cover - parse_config refused it already
        raise ConfigError(["runtime: must be a table"])
    runtime["state_dir"] = str(wanted)
    return Setup(parse_config(effective), path, wanted, effective)


def prepare(setup: Setup) -> None:
    """0700 directories, secrets, the effective config file, the embedded redis.conf."""
    config, state = setup.config, setup.state_dir
    # Asked first and read last: the secrets of a fresh state (~30 ms, cryptography) are made meanwhile.
    redis_version = (
        embedded.ask_redis_version(embedded.redis_binary() or "redis-server") if config.embeds_redis else None
    )
    ensure_private_dir(state)
    ensure_private_dir(state / "logs")
    ensure_secrets(config.secrets_dir)
    ensure_private_dir(config.ipc_dir)
    _ensure_password_file(state / SUPERVISOR_PASSWORD_FILE)
    if setup.effective_raw is not None:
        write_private(
            state / EFFECTIVE_CONFIG_FILE,
            dump_toml(
                setup.effective_raw,
                header=(
                    "Rendered by `webui-host run --state-dir`: the file below with [runtime] state_dir replaced.",
                    f"Source: {setup.config_path or '(embedded default)'}",
                ),
            ),
        )
    if config.embeds_etcd:
        ensure_private_dir(state / "etcd")
    if config.embeds_redis:
        ensure_private_dir(state / "redis")
        write_private(
            state / "redis" / "redis.conf", render_redis_conf(setup, embedded.redis_version_answer(redis_version))
        )


def reset_metrics(setup: Setup) -> None:
    """Empty the metrics directory (call only while the host's processes are stopped)."""
    wipe_metrics_dir(setup.config.runtime.state_dir)


def render_redis_conf(setup: Setup, version: tuple[int, int, int] | None) -> str:
    config = setup.config
    passwords = {role: read_redis_password(config, role) for role in (*ROLES, REDIS_ADMIN)}
    return embedded.render_redis_conf(
        port=config.embedded.redis_port,
        data_dir=setup.state_dir / "redis",
        passwords=passwords,
        server_knows_setinfo=embedded.knows_setinfo(version),
    )


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _ensure_password_file(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()
