"""etcd as a 3-member cluster: the stack is given every endpoint, and the member it uses is killed
under load: no agent registration is lost, no request fails, the watcher and the CLI carry on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from contract.etcd_layout import namespace_prefix
from tests.e2e.test_redis_sentinel import Browser
from tests.support.polling import eventually_sync
from tests.support.redis_ha import start_etcd_cluster
from tests.support.stack import RunningStack

pytestmark = pytest.mark.slow

LEASE_TTL = 4


def agent_ids(endpoints: list[str], prefix: bytes) -> set[str]:
    done = subprocess.run(
        [
            "etcdctl",
            "--endpoints",
            ",".join(endpoints),
            "--command-timeout=2s",
            "get",
            "--prefix",
            "--keys-only",
            (prefix + b"agents/").decode(),
        ],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    return {line.rsplit("/", 1)[1] for line in done.stdout.split() if line}


def test_killing_the_etcd_member_in_use_loses_no_registration_and_no_request(tmp_path: Path):
    cluster = start_etcd_cluster(tmp_path)
    extra = f"[etcd]\naddr = {json.dumps(cluster.endpoints)}\nlease_ttl = {LEASE_TTL}\n"
    stack = RunningStack(tmp_path, extra_config=extra, signers=2)
    try:
        stack.start()
        prefix = namespace_prefix(stack.config)
        survivors = cluster.endpoints[1:]
        agents = eventually_sync(
            lambda: len(agent_ids(cluster.endpoints, prefix)) == 2 and agent_ids(cluster.endpoints, prefix),
            timeout=20,
            what="two agents registered",
        )
        browser = Browser(stack.base_url)
        assert browser.login()
        failures: list[float] = []
        calls = [0]
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                calls[0] += 1
                if not browser.signed_call():
                    failures.append(time.monotonic())
                time.sleep(0.02)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        cluster.kill(0)  # every process connected to the first endpoint
        killed = time.monotonic()
        missing: list[set[str]] = []
        # Over three lease lifetimes, the registrations must stay (refreshed through the other members).
        while time.monotonic() < killed + 3 * LEASE_TTL:
            seen = agent_ids(survivors, prefix)
            if seen != agents:
                missing.append(agents - seen)
            time.sleep(0.2)
        stop.set()
        worker.join(timeout=15)
        assert not missing, f"registrations missing at times: {missing[:3]}"
        assert calls[0] > 50 and not failures, f"{len(failures)} of {calls[0]} signed calls failed"
        # The CLI reaches the cluster through the surviving members too.
        done = subprocess.run(
            [str(Path(sys.executable).parent / "webui-host"), "agents", "list", "-f", str(stack.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert all(agent in done.stdout for agent in agents)
    finally:
        stack.stop()
        cluster.stop()
