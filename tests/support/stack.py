"""The whole webui-host stack as real processes, started the way an operator starts it.

``RunningStack`` launches ``webui-host run -f <config>`` (supervisord in the foreground with the
embedded Redis, etcd and development Manager on free loopback ports) and waits until a login and a
signed call succeed.  Tests steer processes with ``supervisorctl`` and stop only what they started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis

from contract.host_layout import REDIS_ADMIN
from service_runtime.config_file import load_config
from service_runtime.redis_client import read_redis_password
from tests.support.http_probe import signed_call_works
from tests.support.polling import eventually_sync
from tests.support.ports import free_ports, port_is_free

VENV_BIN = Path(sys.executable).parent
ADMIN_USER = ("admin@lablup.com", "wJalrXUt")
NORMAL_USER = ("user@lablup.com", "C8qnIo29")


@dataclass
class StackPorts:
    frontdoor: int
    manager: int
    redis: int
    etcd: int
    ops: int


# The suites log in many times a minute from one address: limits no test trips over by accident.
GENEROUS_RATE_LIMITS = "requests = 1000000\nlogin_requests = 1000000"
PORT_ATTEMPTS = 3


def write_config(
    directory: Path,
    ports: StackPorts,
    extra: str = "",
    signers: int = 2,
    workers: int = 1,
    log_level: str = "INFO",
    *,
    service_extra: str = "",
    rate_limits: str = GENEROUS_RATE_LIMITS,
    ops_extra: str = "",
    api_extra: str = "",
) -> Path:
    """``service_extra``, ``rate_limits``, ``ops_extra``, ``api_extra``: TOML lines for [service],
    [security.rate_limit], [ops], [api]."""
    path = directory / "webui-host.toml"
    path.write_text(
        f"""
[service]
port = {ports.frontdoor}
workers = {workers}
{service_extra}

[session]
login_allowed_fail_count = 3
login_block_time = 60

[signers]
count = {signers}
request_timeout = 0.5

[api]
response_timeout = 2.0
{api_extra}

[runtime]
state_dir = "{directory / "state"}"
log_level = "{log_level}"

[security.rate_limit]
{rate_limits}

[ops]
port = {ports.ops}
{ops_extra if "drain_timeout" in ops_extra else ops_extra + chr(10) + "drain_timeout = 3.0"}

[embedded]
redis_port = {ports.redis}
etcd_port = {ports.etcd}
manager_port = {ports.manager}
{extra}
"""
    )
    return path


def stack_ports() -> StackPorts:
    """Free ports, including the one after etcd's (its peer port), which nothing else may take."""
    while True:
        ports = StackPorts(*free_ports(5))
        peer = ports.etcd + 1
        if peer not in vars(ports).values() and port_is_free(peer):
            return ports


class RunningStack:
    def __init__(
        self,
        directory: Path,
        extra_config: str = "",
        signers: int = 2,
        workers: int = 1,
        log_level: str = "INFO",
        *,
        launcher: Path | None = None,
        cwd: Path | None = None,
        config_writer: Callable[[Path, StackPorts], Path] | None = None,
        **config_options: str,
    ):
        """``launcher``/``cwd``: another installation's ``webui-host`` run from elsewhere (the wheel test);
        ``config_writer``: writes a whole configuration of its own for these ports (the benchmark's)."""
        self.directory = directory
        self.launcher = launcher or VENV_BIN / "webui-host"
        self.cwd = cwd

        def configure(ports: StackPorts) -> Path:
            if config_writer is not None:
                return config_writer(directory, ports)
            return write_config(directory, ports, extra_config, signers, workers, log_level, **config_options)

        self._configure = configure
        self._use_ports(stack_ports())
        self._process: subprocess.Popen | None = None
        self.poll_interval = 0.3
        self._log = open(directory / "webui-host-run.log", "wb")

    @property
    def launcher_pid(self) -> int | None:
        """PID of ``webui-host run`` (the root of every process of the stack), once started."""
        return self._process.pid if self._process is not None else None

    @property
    def supervisord_conf(self) -> Path:
        return self.config.runtime.state_dir / "supervisord.conf"

    def _use_ports(self, ports: StackPorts) -> None:
        self.ports = ports
        self.config_path = self._configure(ports)
        self.config = load_config(self.config_path)
        self.base_url = f"http://127.0.0.1:{ports.frontdoor}"
        self.manager_url = f"http://127.0.0.1:{ports.manager}"
        self.ops_url = f"http://127.0.0.1:{ports.ops}"

    def start(self, timeout: float = 60.0, poll_interval: float = 0.3) -> RunningStack:
        """Ports free when chosen can be taken before the launcher binds them (any connection on this
        host may get one as its ephemeral port); the launcher refuses to start then, naming the port,
        and the stack starts again on new ones."""
        self.poll_interval = poll_interval
        for attempt in range(PORT_ATTEMPTS):
            self._log.flush()
            log_start = self._log.tell()
            self._process = subprocess.Popen(
                [str(self.launcher), "run", "-f", str(self.config_path)],
                cwd=self.cwd,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                self.wait_until_serving(timeout)
                self.wait_until_started(timeout)
                return self
            except RuntimeError:
                if attempt + 1 == PORT_ATTEMPTS or not self._refused_for_a_taken_port(log_start):
                    raise
                self._use_ports(stack_ports())
        return self

    def _refused_for_a_taken_port(self, log_start: int) -> bool:
        self._log.flush()
        output = (self.directory / "webui-host-run.log").read_bytes()[log_start:].decode(errors="replace")
        return self._process.poll() is not None and "cannot start" in output and "already in use" in output

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Polls every ``poll_interval`` seconds (0.3; the benchmark times a start to 50 ms); a launcher
        that exits fails at once (RuntimeError, which ``start`` retries on new ports)."""
        last_error = "not started"

        def serving() -> bool:
            nonlocal last_error
            if self._process.poll() is not None:
                raise RuntimeError(f"webui-host run exited with {self._process.returncode}: {self.log_tail()}")
            try:
                if signed_call_works(self.base_url, *ADMIN_USER):
                    return True
                last_error = "signed call not yet accepted"
            except OSError as exc:
                last_error = repr(exc)
            return False

        try:
            eventually_sync(serving, timeout=timeout, interval=self.poll_interval, what="a signed call")
        except AssertionError:
            raise TimeoutError(f"stack not serving after {timeout}s ({last_error}): {self.log_tail()}") from None

    def wait_until_started(self, timeout: float = 30.0) -> None:
        """Until supervisord counts no program as STARTING (alive less than its ``startsecs``, 1 s, and
        shown without a pid): on a fast machine a stack serves before its first programs are a second
        old, and a test reading ``pids`` right after the start would miss them."""
        eventually_sync(
            lambda: not any(line.split()[1:2] == ["STARTING"] for line in self.supervisorctl("status").splitlines()),
            timeout=timeout,
            interval=self.poll_interval,
            what="every program past STARTING",
        )

    def etcd_put(self, section: str, name: str, value: bytes) -> None:
        """Write a Web API Groups entry the way an operator's ``etcdctl`` would, around our API's checks."""
        from contract.etcd_layout import section_key

        subprocess.run(
            [
                "etcdctl",
                f"--endpoints=127.0.0.1:{self.ports.etcd}",
                "put",
                section_key(self.config, section, name).decode(),
                value.decode(),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "ETCDCTL_API": "3"},
            timeout=10,
        )

    def supervisorctl(self, *args: str) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(self.supervisord_conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout + done.stderr

    def pids(self, name: str) -> list[int]:
        """PIDs of running programs whose supervisor name starts with ``name``."""
        found = []
        for line in self.supervisorctl("status").splitlines():
            fields = line.split()
            if fields and fields[0].startswith(name) and "RUNNING" in line and "pid" in line:
                found.append(int(line.split("pid", 1)[1].split(",")[0].strip()))
        return found

    def admin_redis(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.ports.redis,
            username=REDIS_ADMIN,
            password=read_redis_password(self.config, REDIS_ADMIN),
        )

    def role_redis(self, role: str) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.ports.redis, username=role, password=read_redis_password(self.config, role)
        )

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = (self.directory / "webui-host-run.log").read_text(errors="replace").splitlines()
        logs = self.config.runtime.state_dir / "logs"
        for log_file in sorted(logs.glob("*.log")) if logs.exists() else []:
            text += [f"--- {log_file.name}"] + log_file.read_text(errors="replace").splitlines()[-15:]
        return "\n".join(text[-lines * 4 :])

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the stack as an operator would (SIGTERM to the foreground process); whatever it
        leaves behind is still ours, so it is killed: a stack never outlives its test."""
        if self._process is None:
            return
        started = self._descendants()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        for process in started + self._descendants():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(started, timeout=10)
        self._log.close()

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self._process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
