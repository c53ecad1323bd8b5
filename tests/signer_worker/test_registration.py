"""A signer stopped while its etcd registration is failing over exits cleanly (exit 0, no traceback).

The race, made to happen on purpose: etcd is frozen (SIGSTOP), then Redis is killed, so the signer
reports Down and its registration loop sends that to the frozen etcd, where the call hangs until
the client's deadline (``EtcdClient`` timeout, 5 s).  SIGTERM arrives inside that call's last two
seconds: the stop's lease revoke is in flight on the same client when the loop's call times out and
the loop closes that client to reconnect, cutting the revoke (with gRPC, that surfaced as a
``CancelledError`` that was not a cancellation of the stopping task).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from contract.etcd_layout import AgentState
from service_runtime.keyfiles import ensure_secrets
from tests.support.freezing import freeze
from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually_sync
from tests.support.servers import start_etcd, start_redis

pytestmark = pytest.mark.slow

ETCD_CALL_DEADLINE = 5.0  # service_runtime.etcd.EtcdClient's timeout for every call
REVOKE_WAIT = 2.0  # how long AgentRegistration.withdraw waits for the revoke
# SIGTERM this long after the Down report: the loop's hanging call (sent at that report, or at most
# ~1 s before it) then times out while the revoke waits, whatever the exact scheduling.
SIGTERM_AFTER_REPORT = ETCD_CALL_DEADLINE - REVOKE_WAIT + 0.5
MAX_REPORT_DELAY = 1.0  # from freezing etcd to the Down report: beyond it the window is not certain


class SignerProcess:
    """``python -m signer_worker`` as supervisord runs it; its JSON log lines read from a file."""

    def __init__(self, config_path: Path, log_path: Path):
        self.log_path = log_path
        environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "signer_worker", "-f", str(config_path), "--agent-id", "race-agent"],
                cwd=REPO_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict]:
        found = []
        for line in self.output().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a traceback's lines
        return found

    def reported(self, state: str, after: int = 0) -> int | None:
        """The index of the first event after ``after`` reporting ``state``."""
        for index, event in enumerate(self.events()[after:], start=after):
            if event.get("event") == "agent_state_change" and event.get("to") == state:
                return index + 1
        return None


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="sgr-", dir="/tmp"))  # ipc paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_shutdown_racing_the_registration_reconnect_exits_cleanly(workdir: Path):
    secrets_dir = workdir / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle = start_redis(workdir, secrets_dir)
    etcd = start_etcd(workdir)
    config_path = workdir / "webui-host.toml"
    config_path.write_text(
        f'[api]\nendpoint = ["http://127.0.0.1:9"]\n\n'
        f'[session.redis]\naddr = "{redis_handle.addr}"\n\n'
        f'[etcd]\naddr = "{etcd.addr}"\n\n'
        f'[runtime]\nstate_dir = "{workdir / "state"}"\nsecrets_dir = "{secrets_dir}"\n\n'
        f'[zmq]\nipc_dir = "{workdir / "ipc"}"\n'
    )
    signer = SignerProcess(config_path, workdir / "signer.log")
    try:
        up = eventually_sync(lambda: signer.reported(AgentState.UP), timeout=30, what="the signer Up")
        freeze(etcd.process.pid)
        frozen_at = time.monotonic()
        redis_handle.process.kill()  # the signer goes Down, and says so to the frozen etcd
        eventually_sync(lambda: signer.reported(AgentState.DOWN, after=up), timeout=10, interval=0.02, what="Down")
        reported_at = time.monotonic()
        assert reported_at - frozen_at < MAX_REPORT_DELAY, "too slow to place SIGTERM in the race window"
        _wait_until(reported_at + SIGTERM_AFTER_REPORT)  # a point in time, not a condition: the race window
        signer.process.send_signal(signal.SIGTERM)
        code = signer.process.wait(timeout=30)
        output = signer.output()
        assert code == 0, output
        assert "Traceback" not in output, output
        # The race did happen: the registration loop lost etcd (and closed its channel) during the stop.
        events = [event.get("event") for event in signer.events()]
        assert "etcd_unavailable" in events[events.index("shutdown") :], output
    finally:
        if signer.process.poll() is None:
            signer.process.kill()
            signer.process.wait()
        etcd.process.send_signal(signal.SIGCONT)
        etcd.stop()
        redis_handle.stop()


def _wait_until(moment: float) -> None:
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
