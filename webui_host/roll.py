"""``webui-host roll-signers`` and ``roll-frontdoors``: restart a pool one process at a time, without a gap.

``supervisorctl restart 'signers:*'`` stops every signer before starting any; requests then wait for
the pool (``[signers] pool_wait``) and are answered late.  Rolling restarts one signer, waits until
its new process is registered Up in etcd (and the front doors have had a moment to connect to it),
then moves on, so some signer is always serving.

``supervisorctl restart 'frontdoor:*'`` closes the port for seconds (every connection refused).
Rolling the front doors restarts one worker at a time: the old one stops accepting and drains
(SIGTERM) while the others sharing the port keep accepting; the next is restarted only once the new
process listens, which a worker does only when it can sign (``frontdoor.lifecycle``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from contract.config import Config
from contract.etcd_layout import AgentRecord, AgentState, agents_prefix

SETTLE = 0.5  # seconds for the front doors' etcd watches to pick up the new agent
POLL = 0.2


class RollFailed(Exception):
    pass


@dataclass
class Supervisor:
    """supervisorctl against one supervisord.conf (it carries the socket and the credentials)."""

    ctl: Path
    conf: Path

    def run(self, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run(
            [str(self.ctl), "-c", str(self.conf), *args], capture_output=True, text=True, timeout=timeout
        )
        return done.stdout + done.stderr

    def signer_names(self, group: str) -> list[str]:
        return self.program_names(group)

    def program_names(self, group: str) -> list[str]:
        names = []
        for line in self.run("status", f"{group}:*").splitlines():
            fields = line.split()
            if fields and fields[0].startswith(f"{group}:"):
                names.append(fields[0])
        return sorted(names)

    def pid(self, name: str) -> int | None:
        text = self.run("pid", name).strip()
        return int(text) if text.isdigit() and int(text) > 0 else None


async def agent_records(config: Config) -> list[AgentRecord]:
    from service_runtime.etcd import etcd_client  # only the roll commands need an etcd client

    client = etcd_client(config)
    try:
        records = []
        for kv in await client.get_prefix(agents_prefix(config)):
            try:
                records.append(AgentRecord.from_json(kv.value))
            except (ValueError, KeyError, TypeError):
                continue
        return records
    finally:
        await client.close()


def up_with_pid(records: list[AgentRecord], pid: int) -> bool:
    return any(record.pid == pid and record.state == AgentState.UP for record in records)


async def wait_until_up(config: Config, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if up_with_pid(await agent_records(config), pid):
                return
        except Exception:  # noqa: BLE001 - etcd briefly unreachable: keep looking until the deadline
            pass
        await asyncio.sleep(POLL)
    raise RollFailed(f"the signer with pid {pid} was not Up in etcd within {timeout:.0f}s")


def roll(config: Config, supervisor: Supervisor, group: str = "signers", timeout: float = 30.0, report=print) -> int:
    """Restart each signer in turn; returns how many were rolled (raises RollFailed and stops on a problem)."""
    names = supervisor.signer_names(group)
    if not names:
        raise RollFailed(f"supervisord has no '{group}:*' processes")
    for name in names:
        old_pid = supervisor.pid(name)
        output = supervisor.run("restart", name)
        new_pid = supervisor.pid(name)
        if new_pid is None or new_pid == old_pid:
            raise RollFailed(f"{name} did not restart: {output.strip()}")
        asyncio.run(wait_until_up(config, new_pid, timeout))
        time.sleep(SETTLE)
        report(f"{name}: restarted (pid {old_pid} -> {new_pid}) and Up")
    return len(names)


TCP_LISTEN = "0A"  # the LISTEN state in /proc/net/tcp{,6}


def listens_on(pid: int, port: int, proc: Path = Path("/proc")) -> bool:
    """Whether the process has a TCP listener on ``port`` (a front-door worker binds when ready).

    Read from /proc (the launcher has no psutil: it is a test dependency, absent from the image).
    """
    try:
        fds = list((proc / str(pid) / "fd").iterdir())
    except OSError:  # gone, or not ours to look at
        return False
    inodes = set()
    for fd in fds:
        try:
            link = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / str(pid) / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == TCP_LISTEN
                and int(fields[1].rsplit(":", 1)[1], 16) == port
                and fields[9] in inodes
            ):
                return True
    return False


def wait_until_listening(pid: int, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listens_on(pid, port):
            return
        time.sleep(POLL)
    raise RollFailed(f"the front door with pid {pid} did not listen on port {port} within {timeout:.0f}s")


def roll_frontdoors(
    config: Config, supervisor: Supervisor, group: str = "frontdoor", timeout: float = 30.0, report=print
) -> int:
    """Restart each front-door worker in turn, the next only once the new one listens."""
    names = supervisor.program_names(group)
    if len(names) < 2:
        # With one worker there is nobody to take the port meanwhile: a roll would be an outage.
        raise RollFailed(f"rolling needs at least two '{group}:*' workers (service.workers), found {len(names)}")
    # restart = stop (drains for up to unready_delay + drain_timeout) then start.
    stop_bound = config.ops.unready_delay + config.ops.drain_timeout + timeout
    for name in names:
        old_pid = supervisor.pid(name)
        output = supervisor.run("restart", name, timeout=stop_bound + 60)
        new_pid = supervisor.pid(name)
        if new_pid is None or new_pid == old_pid:
            raise RollFailed(f"{name} did not restart: {output.strip()}")
        wait_until_listening(new_pid, config.service.port, timeout)
        report(f"{name}: restarted (pid {old_pid} -> {new_pid}) and listening")
    return len(names)
