"""Signer processes a test starts itself, in a Web API Group of its choosing (stopped by the test)."""

from __future__ import annotations

import os
import subprocess
import sys

from service_runtime.settings import DEVSTACK_ENDPOINT_ENV
from tests.support.stack import RunningStack


class ExtraAgents:
    def __init__(self, stack: RunningStack):
        self._stack = stack
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, agent_id: str, group: str) -> subprocess.Popen:
        env = {**os.environ, "WEBAPI_GROUP_NAME": group, DEVSTACK_ENDPOINT_ENV: self._stack.manager_url}
        with open(self._stack.directory / f"{agent_id}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "signer_worker", "-f", str(self._stack.config_path), "--agent-id", agent_id],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[agent_id] = process
        return process

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
