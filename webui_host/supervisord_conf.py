"""supervisord.conf: which programs run, in which order, and where their files are.

Two variants share one text (``supervisord_text``).  The host variant (``render_host_conf``, for
``webui-host run``) has absolute paths and the embedded servers the setup needs.  The operator variant
(``render_operator_conf``) is pure: it names no embedded server and every path is relative to the
conf's own directory.  Worker 1, 2, ... of the front doors and the signers start once a front door
serves (``later_worker_wait``, ``webui_host.parent_bound``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from contract.config import Config, parse_config
from contract.host_layout import DEVSTACK_ENDPOINT_ENV, DRAIN_BUDGET_ENV
from webui_host import embedded, supervisord_text
from webui_host.conf_values import Expansion, conf_command, conf_environment, conf_join, conf_text
from webui_host.host_setup import SUPERVISOR_PASSWORD_FILE, Setup, write_private
from webui_host.leftovers import STATE_DIR_ENV
from webui_host.manager_choice import ManagerChoice

SUPERVISOR_USER = "webui-host"
CONF_FILE = "supervisord.conf"
SOCKET_FILE = "supervisor.sock"

# Start order: servers first, then the session daemon and the signers, the front door last.
PRIORITY = {"redis": 10, "etcd": 20, "devstack": 30, "session_daemon": 100, "signers": 200, "frontdoor": 300}
DEFAULT_STOPWAIT = 10
DRAIN_MARGIN = 5  # seconds supervisord waits beyond the front door's own drain before it kills
LOG_MAXBYTES = "50MB"
LOG_BACKUPS = 5
SIGNER_GROUP = "signers"
NUMBERED = "%(program_name)s_%(process_num)02d"


def frontdoor_drain_budget(config: Config) -> int:
    """The seconds of unready_delay + drain_timeout the front door's stop wait covers.  The front door
    is told (``DRAIN_BUDGET_ENV``): a reload asking for a longer drain needs a restart."""
    return math.ceil(config.ops.unready_delay + config.ops.drain_timeout)


def frontdoor_stopwait(config: Config) -> int:
    """The front door drains for unready_delay + drain_timeout after SIGTERM; SIGKILL only after that."""
    return frontdoor_drain_budget(config) + DRAIN_MARGIN


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
    # The words that start the wrapper making a program die with supervisord (webui_host.parent_bound);
    # empty: ``python -m webui_host.parent_bound``.
    guard: tuple = ()


def render_host_conf(setup: Setup, choice: ManagerChoice, *, cwd: Path | None = None) -> str:
    return render_supervisord_conf(setup.config, host_layout(setup, cwd=cwd), devstack=choice.devstack, setup=setup)


def host_layout(setup: Setup, *, cwd: Path | None = None) -> Layout:
    password = setup.state_dir / SUPERVISOR_PASSWORD_FILE
    auth = (SUPERVISOR_USER, password.read_text().strip()) if password.exists() else None
    return Layout(
        python=Path(sys.executable).absolute(),  # not resolved: the venv's python, not the base one
        config_file=setup.process_config_path,
        state_dir=setup.state_dir,
        directory=(cwd or Path.cwd()).absolute(),
        operator=False,
        nodaemon=True,
        auth=auth,
        guard=host_guard(Path(sys.executable).absolute()),
    )


def host_guard(python: Path) -> tuple:
    """The wrapper by its file, isolated (-I) and without ``site`` (-S): it needs only the standard
    library, and skipping site-packages (an editable install's finder most of all) makes each of the
    eight program starts ~15-25 ms of CPU cheaper.  The operator's conf keeps ``-m``, whose path does
    not depend on where the package is installed."""
    return (python, "-I", "-S", Path(__file__).with_name("parent_bound.py"))


def later_worker_wait(config: Config) -> tuple:
    """The wrapper's options that start worker 1, 2, ... of a pool once a front door listens, or after
    ``parent_bound.LATER_WORKER_WAIT`` seconds: the first answer needs one front door and one signer,
    and on few cores the later ones' imports (~0.7 s of CPU each) would slow the first ones down.  One
    target for both pools: a front door listens only once a signer is connected to it."""
    return ("--worker", Expansion("%(process_num)s"), "--after", f"tcp-connect:{frontdoor_address(config)}")


def frontdoor_address(config: Config) -> str:
    """Where a later worker looks for a front door that listens: the public port, over loopback when the
    front door listens on every address."""
    ip = config.service.ip
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(ip, ip)
    return f"[{host}]:{config.service.port}" if ":" in host else f"{host}:{config.service.port}"


def write_supervisord_conf(setup: Setup, text: str) -> Path:
    path = setup.state_dir / CONF_FILE
    write_private(path, text)
    return path


def render_operator_conf(config: Config | None = None, python: Path | None = None) -> str:
    """The repository's supervisord.conf: no embedded servers, paths relative to the conf.

    ``python``: the interpreter of an installed package (``/opt/webui-host/bin/python``) instead of the
    checkout's ``%(here)s/.venv``, for a conf kept outside the repository.
    """
    return render_supervisord_conf(config or parse_config({}), operator_layout(python))


def operator_layout(python: Path | None = None) -> Layout:
    return Layout(
        python=python if python is not None else Expansion("%(here)s/.venv/bin/python"),
        config_file=Expansion("%(here)s/webui-host.toml"),
        state_dir=Expansion("%(here)s/.state"),
        directory=Expansion("%(here)s"),
        operator=True,
        nodaemon=False,
    )


def render_supervisord_conf(
    config: Config, layout: Layout, *, devstack: bool = False, setup: Setup | None = None
) -> str:
    state = layout.state_dir
    return supervisord_text.render(
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


def _programs(config: Config, layout: Layout, *, devstack: bool, setup: Setup | None) -> list[Program]:
    state = layout.state_dir
    # The state directory marks our programs, so a new run can stop what a killed one left (leftovers.py).
    base_env = {"PYTHONUNBUFFERED": "1", STATE_DIR_ENV: state if isinstance(state, str) else str(state)}
    common = {"directory": conf_text(layout.directory)}
    config_args: tuple = ("-f", layout.config_file) if layout.config_file is not None else ()

    def single_log(name: str) -> str:
        return conf_join(state, "logs", f"{name}.log")

    def numbered_log() -> str:
        return conf_join(state, "logs", Expansion(NUMBERED + ".log"))

    def bound(*argv, after: tuple = ()) -> str:
        # Programs die with supervisord (webui_host.parent_bound): a killed launcher leaves no orphans.
        wrapper = layout.guard or (layout.python, "-m", "webui_host.parent_bound")
        return conf_command(*wrapper, *after, "--", *argv)

    programs = []
    if not layout.operator and setup is not None:
        if config.embeds_redis:
            programs.append(
                Program(
                    "redis",
                    bound(embedded.redis_binary() or "redis-server", setup.state_dir / "redis" / "redis.conf"),
                    PRIORITY["redis"],
                    logfile=single_log("redis"),
                    environment=conf_environment(base_env),
                    comment=f"embedded Redis on 127.0.0.1:{config.embedded.redis_port} (the file names none)",
                    **common,
                )
            )
        if config.embeds_etcd:
            argv = embedded.etcd_command(
                data_dir=setup.state_dir / "etcd",
                client_port=config.embedded.etcd_port,
                binary=embedded.etcd_binary() or "etcd",
            )
            programs.append(
                Program(
                    "etcd",
                    bound(*argv),
                    PRIORITY["etcd"],
                    logfile=single_log("etcd"),
                    environment=conf_environment(base_env),
                    comment=f"embedded etcd on 127.0.0.1:{config.embedded.etcd_port} (the file names none)",
                    **common,
                )
            )
        if devstack:
            programs.append(
                Program(
                    "devstack",
                    bound(
                        layout.python,
                        "-m",
                        "devstack",
                        "--host",
                        embedded.LOOPBACK,
                        "--port",
                        str(config.embedded.manager_port),
                    ),
                    PRIORITY["devstack"],
                    logfile=single_log("devstack"),
                    environment=conf_environment(base_env),
                    comment="development Manager: neither the file nor etcd names one",
                    **common,
                )
            )
    # The processes use the devstack only when told it runs: never as a silent fallback in production.
    service_env = {**base_env, DEVSTACK_ENDPOINT_ENV: config.devstack_endpoint} if devstack else base_env
    programs.append(
        Program(
            "session_daemon",
            bound(layout.python, "-m", "session_daemon", *config_args),
            PRIORITY["session_daemon"],
            logfile=single_log("session_daemon"),
            environment=conf_environment(service_env),
            comment="the only Redis writer",
            **common,
        )
    )
    programs.append(
        Program(
            "signer",
            bound(
                layout.python,
                "-m",
                "signer_worker",
                *config_args,
                "--index",
                Expansion("%(process_num)s"),
                after=later_worker_wait(config),
            ),
            PRIORITY[SIGNER_GROUP],
            logfile=numbered_log(),
            numprocs=config.signers.count,
            environment=conf_environment({**service_env, "WEBAPI_GROUP_NAME": config.signers.group}),
            comment="holds secret keys and signs requests ([signers] count)",
            **common,
        )
    )
    programs.append(
        Program(
            "frontdoor",
            bound(
                layout.python,
                "-m",
                "frontdoor",
                *config_args,
                "--worker",
                Expansion("%(process_num)s"),
                after=later_worker_wait(config),
            ),
            PRIORITY["frontdoor"],
            logfile=numbered_log(),
            numprocs=config.service.workers,
            environment=conf_environment({**service_env, DRAIN_BUDGET_ENV: str(frontdoor_drain_budget(config))}),
            stopwaitsecs=frontdoor_stopwait(config),
            comment="public HTTP, sharing the port with SO_REUSEPORT ([service] workers)",
            **common,
        )
    )
    return programs
