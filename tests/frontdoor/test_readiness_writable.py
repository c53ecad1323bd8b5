"""/readyz's Redis check asks for a write: a replica (or a demoted master) answers PING but is not ready."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.exceptions

from contract.config import parse_config
from frontdoor.sessions import SessionReader
from service_runtime.redis_client import redis_client
from tests.support.polling import eventually_sync
from tests.support.servers import start_redis


async def _never(_session_id):  # pragma: no cover - no touch happens here
    raise AssertionError


async def test_redis_readiness_fails_on_a_replica_and_passes_on_the_master(tmp_path: Path):
    secrets = tmp_path / "state" / "secrets"
    master = start_redis(tmp_path / "master", secrets)
    replica = start_redis(tmp_path / "replica", secrets)
    try:
        with replica.admin() as admin:
            admin.execute_command("REPLICAOF", "127.0.0.1", str(master.port))
        eventually_sync(lambda: replica.admin().info("replication")["role"] == "slave", timeout=10)
        for handle, ready in ((master, True), (replica, False)):
            config = parse_config(
                {"runtime": {"state_dir": str(tmp_path / "state")}, "session": {"redis": {"addr": handle.addr}}}
            )
            reader = SessionReader(redis_client(config, "frontdoor"), 60.0, _never)
            try:
                if ready:
                    await reader.ping()
                else:
                    with pytest.raises(redis.exceptions.ReadOnlyError):
                        await reader.ping()
            finally:
                await reader.close()
    finally:
        replica.stop()
        master.stop()
