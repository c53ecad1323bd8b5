"""The whole host under one supervisord: the state directory, the Manager decision, the rendered conf.

``webui-host run`` is ``resolve`` -> ``check_problems`` -> ``prepare`` -> ``decide_manager`` ->
``write_supervisord_conf`` -> exec supervisord.  The operator variant (``render_operator_conf``) is
pure: it names no embedded server and every path is relative to the conf's own directory.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as _dt
import errno
import json
import math
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from contract.bootstrap import DEVSTACK_ENDPOINT_ENV
from contract.config import (
    Config,
    ConfigError,
    merge_global_overrides,
    parse_config,
    read_config_file,
)
from contract.etcd_layout import etcd_client, read_global_settings
from contract.metrics import wipe_metrics_dir
from contract.redis_layout import ROLES
from contract.runtime import REDIS_ADMIN, ensure_private_dir, ensure_secrets, read_redis_password
from webui_host import embedded

DEVSTACK_LOGIN = ("admin@lablup.com", "wJalrXUt")
SUPERVISOR_USER = "webui-host"
SUPERVISOR_PASSWORD_FILE = "supervisor.password"
EFFECTIVE_CONFIG_FILE = "webui-host.toml"
CONF_FILE = "supervisord.conf"
SOCKET_FILE = "supervisor.sock"

# Start order: servers first, then the session daemon and the signers, the front door last.
PRIORITY = {"redis": 10, "etcd": 20, "devstack": 30, "session_daemon": 100, "signers": 200, "frontdoor": 300}
DEFAULT_STOPWAIT = 10
DRAIN_MARGIN = 5  # seconds supervisord waits beyond the front door's own drain before it kills


def frontdoor_stopwait(config: Config) -> int:
    """The front door drains for unready_delay + drain_timeout after SIGTERM; SIGKILL only after that."""
    return math.ceil(config.ops.unready_delay + config.ops.drain_timeout) + DRAIN_MARGIN
LOG_MAXBYTES = "50MB"
LOG_BACKUPS = 5
SIGNER_GROUP = "signers"
NUMBERED = "%(program_name)s_%(process_num)02d"

_TEMPLATES = Path(__file__).with_name("templates")


# ---------------------------------------------------------------------------------------------
# Values written into the conf: supervisor expands %(name)s everywhere, so literal text is escaped.


class Expansion(str):
    """Text meant for supervisor's own %(name)s expansion: written as is."""


def conf_text(value: str | Path) -> str:
    """A literal value for supervisord.conf: '%' doubled, and nothing the ini parser would cut."""
    if isinstance(value, Expansion):
        text = str(value)
    else:
        text = str(value).replace("%", "%%")
    if "\n" in text or "\r" in text or re.search(r"\s[;#]", text):
        raise ValueError(f"{value!r} cannot be written into supervisord.conf")
    return text


def conf_join(*parts: str | Path) -> str:
    """Path pieces joined with '/', each piece escaped unless it is an Expansion."""
    return "/".join(conf_text(part).rstrip("/") if i == 0 else conf_text(part) for i, part in enumerate(parts))


def conf_command(*argv: str | Path) -> str:
    """A command line as supervisor splits it (shlex), each word quoted and escaped."""
    words = []
    for arg in argv:
        text = conf_text(arg)
        # %(process_num)s expands to digits; %(here)s to a path, quoted like any literal word.
        words.append(text if isinstance(arg, Expansion) and "%(here)s" not in text else shlex.quote(text))
    return " ".join(words)


def conf_environment(env: dict[str, str]) -> str:
    pairs = []
    for key, value in env.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or '"' in value or "\\" in value:
            raise ValueError(f"environment {key}={value!r} cannot be written into supervisord.conf")
        pairs.append(f'{key}="{conf_text(value)}"')
    return ",".join(pairs)


# ---------------------------------------------------------------------------------------------
# The configuration as the processes will see it.


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


def _redis_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def _etcd_binary() -> str | None:
    return shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)


def _host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


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


def check_problems(config: Config) -> list[str]:
    """What a valid file can still get wrong on this host: missing files, binaries, clashing ports."""
    problems = []
    service = config.service
    if service.ssl_enabled:
        for key in ("ssl_cert", "ssl_privkey"):
            path = getattr(service, key)
            if path is not None and not path.is_file():
                problems.append(f"service.{key}: {path} is not a file")
    if "%" in str(config.runtime.state_dir):
        # supervisor expands stdout_logfile twice, so no escaping of '%' survives in log paths.
        problems.append(f"runtime.state_dir: {config.runtime.state_dir} contains '%', which supervisord cannot take")
    if not service.static_path.is_dir():
        problems.append(f"service.static_path: {service.static_path} is not a directory")
    if config.embeds_redis and _redis_binary() is None:
        problems.append("session.redis: no Redis is named and redis-server is not installed (scripts/setup)")
    if config.embeds_etcd and _etcd_binary() is None:
        problems.append("etcd.addr: no etcd is named and etcd is not installed (scripts/setup)")
    seen: dict[int, str] = {}
    for owner, (_host, port) in listen_ports(config, devstack=None).items():
        if port in seen:
            problems.append(f"port {port} is wanted by both {seen[port]} and {owner}")
        seen.setdefault(port, owner)
    return problems


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


def supervisor_running(state_dir: Path) -> bool:
    sock_path = state_dir / SOCKET_FILE
    if not sock_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(sock_path))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# The state directory.


def prepare(setup: Setup) -> None:
    """0700 directories, secrets, the effective config file, the embedded redis.conf."""
    config, state = setup.config, setup.state_dir
    ensure_private_dir(state)
    ensure_private_dir(state / "logs")
    ensure_secrets(config.secrets_dir)
    ensure_private_dir(config.ipc_dir)
    _ensure_password_file(state / SUPERVISOR_PASSWORD_FILE)
    if setup.effective_raw is not None:
        _write_private(state / EFFECTIVE_CONFIG_FILE, dump_toml(setup.effective_raw, header=(
            "Rendered by `webui-host run --state-dir`: the file below with [runtime] state_dir replaced.",
            f"Source: {setup.config_path or '(embedded default)'}",
        )))
    if config.embeds_etcd:
        ensure_private_dir(state / "etcd")
    if config.embeds_redis:
        ensure_private_dir(state / "redis")
        _write_private(state / "redis" / "redis.conf", render_redis_conf(setup))


def reset_metrics(setup: Setup) -> None:
    """Empty the metrics directory (call only while the host's processes are stopped)."""
    wipe_metrics_dir(setup.config.runtime.state_dir)


def render_redis_conf(setup: Setup) -> str:
    config = setup.config
    version = embedded.redis_server_version(_redis_binary() or "redis-server")
    passwords = {role: read_redis_password(config, role) for role in (*ROLES, REDIS_ADMIN)}
    return embedded.render_redis_conf(
        port=config.embedded.redis_port,
        data_dir=setup.state_dir / "redis",
        passwords=passwords,
        server_knows_setinfo=embedded.knows_setinfo(version),
    )


def _write_private(path: Path, text: str) -> None:
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


# ---------------------------------------------------------------------------------------------
# Which Manager: the file, then etcd, then the devstack (contract.bootstrap's order).


@dataclass
class ManagerChoice:
    source: str  # "file" | "etcd" | "devstack" | "unknown" (etcd unreachable)
    endpoints: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def devstack(self) -> bool:
        return self.source == "devstack"


async def _read_etcd(config: Config, timeout: float) -> tuple[dict, list[str]]:
    client = etcd_client(config)
    try:
        return await asyncio.wait_for(read_global_settings(client, config), timeout)
    finally:
        try:
            await asyncio.wait_for(client.close(), 2.0)
        except Exception:  # noqa: BLE001 - closing a client that never connected
            pass


def _try_read_etcd(config: Config, timeout: float) -> tuple[dict, list[str]] | None:
    try:
        return asyncio.run(_read_etcd(config, timeout))
    except Exception:  # noqa: BLE001 - aetcd raises several connection error types
        return None


def _choice_from_etcd(setup: Setup, overrides: dict, endpoints: list[str]) -> ManagerChoice:
    config = parse_config(merge_global_overrides(setup.raw, overrides)) if overrides else setup.config
    if config.api.endpoint:
        return ManagerChoice("etcd", config.api.endpoint, ["[api] endpoint set by etcd's config/global"])
    if endpoints:
        return ManagerChoice("etcd", endpoints)
    return ManagerChoice("devstack", [setup.config.devstack_endpoint])


def decide_manager(setup: Setup, *, etcd_wait: float = 20.0) -> ManagerChoice:
    """Whether the devstack must run: the file names no Manager and neither does etcd.

    An embedded etcd with data is started for a moment to be read (and stopped by its PID) unless it
    already runs; a fresh one cannot name a Manager.  An unreachable external etcd starts no
    devstack: the processes will find the Manager in etcd once it is back.
    """
    config = setup.config
    if config.api.endpoint:
        return ManagerChoice("file", config.api.endpoint)
    data_dir = setup.state_dir / "etcd"
    if config.embeds_etcd and not (data_dir / "member").exists():
        return ManagerChoice("devstack", [config.devstack_endpoint])
    found = _try_read_etcd(config, 3.0)
    if found is None and config.embeds_etcd:
        found = _read_embedded_etcd_once(setup, etcd_wait)
    if found is None:
        return ManagerChoice("unknown", [], [
            f"etcd at {config.etcd_addr} is unreachable, so the Manager is not known yet; "
            "no devstack is started (the processes retry etcd)"
        ])
    return _choice_from_etcd(setup, *found)


def _read_embedded_etcd_once(setup: Setup, wait: float) -> tuple[dict, list[str]] | None:
    config = setup.config
    binary = _etcd_binary()
    if binary is None:
        return None
    argv = embedded.etcd_command(
        data_dir=setup.state_dir / "etcd", client_port=config.embedded.etcd_port, binary=binary
    )
    log_path = setup.state_dir / "logs" / "etcd.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None:
            found = _try_read_etcd(config, 2.0)
            if found is not None:
                return found
            time.sleep(0.2)
        return None
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop one process we started, by its PID: TERM, then KILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# supervisord.conf


@dataclass
class Program:
    name: str
    command: str
    priority: int
    directory: str
    logfile: str
    environment: str
    stopwaitsecs: int = DEFAULT_STOPWAIT
    numprocs: int | None = None  # None: one process named like the program
    comment: str = ""


@dataclass
class Layout:
    """Where things are, as text for the conf (absolute paths, or %(here)s-relative for operators)."""

    python: str | Path
    config_file: str | Path | None
    state_dir: str | Path
    directory: str | Path
    operator: bool
    nodaemon: bool
    auth: tuple[str, str] | None = None


def _programs(config: Config, layout: Layout, *, devstack: bool, setup: Setup | None) -> list[Program]:
    state = layout.state_dir
    base_env = {"PYTHONUNBUFFERED": "1"}
    common = {"directory": conf_text(layout.directory)}
    config_args: tuple = ("-f", layout.config_file) if layout.config_file is not None else ()

    def single_log(name: str) -> str:
        return conf_join(state, "logs", f"{name}.log")

    def numbered_log() -> str:
        return conf_join(state, "logs", Expansion(NUMBERED + ".log"))

    programs = []
    if not layout.operator and setup is not None:
        if config.embeds_redis:
            programs.append(Program(
                "redis", conf_command(_redis_binary() or "redis-server", setup.state_dir / "redis" / "redis.conf"),
                PRIORITY["redis"], logfile=single_log("redis"), environment=conf_environment(base_env),
                comment=f"embedded Redis on 127.0.0.1:{config.embedded.redis_port} (the file names none)", **common,
            ))
        if config.embeds_etcd:
            argv = embedded.etcd_command(
                data_dir=setup.state_dir / "etcd", client_port=config.embedded.etcd_port,
                binary=_etcd_binary() or "etcd",
            )
            programs.append(Program(
                "etcd", conf_command(*argv), PRIORITY["etcd"], logfile=single_log("etcd"),
                environment=conf_environment(base_env),
                comment=f"embedded etcd on 127.0.0.1:{config.embedded.etcd_port} (the file names none)", **common,
            ))
        if devstack:
            programs.append(Program(
                "devstack",
                conf_command(layout.python, "-m", "devstack", "--host", embedded.LOOPBACK,
                             "--port", str(config.embedded.manager_port)),
                PRIORITY["devstack"], logfile=single_log("devstack"), environment=conf_environment(base_env),
                comment="development Manager: neither the file nor etcd names one", **common,
            ))
    # The processes use the devstack only when told it runs: never as a silent fallback in production.
    service_env = {**base_env, DEVSTACK_ENDPOINT_ENV: config.devstack_endpoint} if devstack else base_env
    programs.append(Program(
        "session_daemon", conf_command(layout.python, "-m", "session_daemon", *config_args),
        PRIORITY["session_daemon"], logfile=single_log("session_daemon"), environment=conf_environment(service_env),
        comment="the only Redis writer", **common,
    ))
    programs.append(Program(
        "signer",
        conf_command(layout.python, "-m", "signer_worker", *config_args, "--index", Expansion("%(process_num)s")),
        PRIORITY[SIGNER_GROUP], logfile=numbered_log(), numprocs=config.signers.count,
        environment=conf_environment({**service_env, "WEBAPI_GROUP_NAME": config.signers.group}),
        comment="holds secret keys and signs requests ([signers] count)", **common,
    ))
    programs.append(Program(
        "frontdoor",
        conf_command(layout.python, "-m", "frontdoor", *config_args, "--worker", Expansion("%(process_num)s")),
        PRIORITY["frontdoor"], logfile=numbered_log(), numprocs=config.service.workers,
        environment=conf_environment(service_env), stopwaitsecs=frontdoor_stopwait(config),
        comment="public HTTP, sharing the port with SO_REUSEPORT ([service] workers)", **common,
    ))
    return programs


def render_supervisord_conf(config: Config, layout: Layout, *, devstack: bool = False,
                            setup: Setup | None = None) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    state = layout.state_dir
    return env.get_template("supervisord.conf.j2").render(
        operator=layout.operator,
        nodaemon=layout.nodaemon,
        pidfile=conf_join(state, "supervisord.pid"),
        logfile=conf_join(state, "logs", "supervisord.log"),
        childlogdir=conf_join(state, "logs"),
        socket=conf_join(state, SOCKET_FILE),
        auth=layout.auth,
        log_maxbytes=LOG_MAXBYTES,
        log_backups=LOG_BACKUPS,
        process_name=NUMBERED,
        programs=_programs(config, layout, devstack=devstack, setup=setup),
        signer_group=SIGNER_GROUP,
        signer_group_priority=PRIORITY[SIGNER_GROUP],
    )


def operator_layout() -> Layout:
    return Layout(
        python=Expansion("%(here)s/.venv/bin/python"),
        config_file=Expansion("%(here)s/webui-host.toml"),
        state_dir=Expansion("%(here)s/.state"),
        directory=Expansion("%(here)s"),
        operator=True,
        nodaemon=False,
    )


def render_operator_conf(config: Config | None = None) -> str:
    """The repository's supervisord.conf: no embedded servers, paths relative to the conf."""
    return render_supervisord_conf(config or parse_config({}), operator_layout())


def host_layout(setup: Setup, *, cwd: Path | None = None) -> Layout:
    password = (setup.state_dir / SUPERVISOR_PASSWORD_FILE)
    auth = (SUPERVISOR_USER, password.read_text().strip()) if password.exists() else None
    return Layout(
        python=Path(sys.executable).absolute(),  # not resolved: the venv's python, not the base one
        config_file=setup.process_config_path,
        state_dir=setup.state_dir,
        directory=(cwd or Path.cwd()).absolute(),
        operator=False,
        nodaemon=True,
        auth=auth,
    )


def render_host_conf(setup: Setup, choice: ManagerChoice, *, cwd: Path | None = None) -> str:
    return render_supervisord_conf(setup.config, host_layout(setup, cwd=cwd), devstack=choice.devstack, setup=setup)


def write_supervisord_conf(setup: Setup, text: str) -> Path:
    path = setup.state_dir / CONF_FILE
    _write_private(path, text)
    return path


# ---------------------------------------------------------------------------------------------
# What `run` prints before handing over to supervisord.


def _display_host(ip: str) -> str:
    if ip in ("0.0.0.0", ""):
        return "127.0.0.1"
    if ip == "::":
        return "[::1]"
    return f"[{ip}]" if ":" in ip else ip


def frontdoor_url(config: Config) -> str:
    scheme = "https" if config.service.ssl_enabled else "http"
    return f"{scheme}://{_display_host(config.service.ip)}:{config.service.port}/"


def _short(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") and len(rel) < len(str(path)) else str(path)


def supervisorctl_path() -> Path:
    return Path(sys.executable).absolute().parent / "supervisorctl"


def banner(setup: Setup, choice: ManagerChoice, conf_path: Path) -> str:
    config = setup.config
    ctl = f"{_short(supervisorctl_path())} -c {_short(conf_path)}"
    lines = ["webui-host: starting under supervisord (Ctrl-C stops everything)", ""]
    lines.append(f"  web UI      {frontdoor_url(config)}")
    if choice.devstack:
        user, password = DEVSTACK_LOGIN
        lines.append(f"  Manager     development Manager at {config.devstack_endpoint}")
        lines.append(f"              log in as {user} / {password}")
    elif choice.endpoints:
        lines.append(f"  Manager     {', '.join(choice.endpoints)} (from {choice.source})")
    else:
        lines.append("  Manager     not known yet (etcd unreachable)")
    redis_kind = "embedded" if config.embeds_redis else "external"
    etcd_kind = "embedded" if config.embeds_etcd else "external"
    lines.append(f"  Redis       {config.redis_addr} ({redis_kind})")
    lines.append(f"  etcd        {config.etcd_addr} ({etcd_kind})")
    lines.append(f"  state       {setup.state_dir}")
    lines.append(f"  logs        {setup.state_dir / 'logs'}/<program>.log")
    lines.append(f"  status      {ctl} status")
    lines.append(f"  ops         http://{_display_host(config.ops.ip)}:{config.ops.port}/metrics  (/livez, /readyz)")
    lines.append(f"  restart     {ctl} restart 'signers:*'    (one: signers:signer_00)")
    config_arg = f" -f {_short(setup.config_path)}" if setup.config_path else ""
    if setup.effective_raw is not None:  # run --state-dir
        config_arg += f" --state-dir {_short(setup.state_dir)}"
    lines.append(f"  roll        {_short(supervisorctl_path().with_name('webui-host'))} roll-signers{config_arg}"
                 "    (one signer at a time)")
    lines.append(f"  stop        Ctrl-C, or {ctl} shutdown")
    for note in choice.notes:
        lines.append(f"  note        {note}")
    return "\n".join(lines) + "\n"


def supervisord_argv(conf_path: Path) -> list[str]:
    script = Path(sys.executable).absolute().parent / "supervisord"
    if script.exists():
        return [str(script), "-n", "-c", str(conf_path)]
    return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf_path)]


# ---------------------------------------------------------------------------------------------
# A small TOML writer for the effective config (the stdlib reads TOML but does not write it).

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(data: dict[str, Any], header: tuple[str, ...] = ()) -> str:
    out = [f"# {line}" for line in header]

    def table(prefix: list[str], values: dict[str, Any]) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in values.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            out.append("")
            out.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        for key, value in scalars.items():
            out.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in tables.items():
            table([*prefix, key], value)

    table([], data)
    return "\n".join(out).lstrip("\n") + "\n"
