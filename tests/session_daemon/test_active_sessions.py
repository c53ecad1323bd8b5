"""The active-sessions count: kept by the store as the daemon's ACL user, against a real Redis."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from contract.host_layout import redis_password_file
from contract.redis_layout import LIVE_SESSIONS_KEY, session_hash
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import load_secret_box, write_at_rest_key
from session_daemon.manager_client import Keypair
from session_daemon.store import SessionStore

KEYPAIR = Keypair("AKIAEXAMPLE", "secret-not-logged", "user", "active")


def daemon_client(redis_server) -> aioredis.Redis:
    password = redis_password_file(redis_server.secrets_dir, "sessiond").read_text().strip()
    return aioredis.Redis(port=redis_server.port, username="sessiond", password=password)


async def test_logins_logouts_revocations_and_expiry_move_the_count(redis_server, tmp_path):
    with redis_server.admin() as admin:
        admin.flushall()
    client = daemon_client(redis_server)
    write_at_rest_key(tmp_path / "at-rest.key")
    store = SessionStore(client, load_secret_box(tmp_path / "at-rest.key"), max_age=600, instruments=Instruments())
    try:
        now = time.time()
        first = await store.create("a@x", KEYPAIR, now)
        await store.create("a@x", KEYPAIR, now)
        await store.create("b@x", KEYPAIR, now)
        assert await store.count_live(now) == 3
        await store.delete(session_hash(first.session_id))
        await store.delete(session_hash(first.session_id))  # idempotent
        assert await store.count_live(now) == 2
        assert await store.revoke_user("a@x") == 1
        assert await store.count_live(now) == 1  # b@x's
        # Redis expired the session on its own (idle timeout): the count drops once its expiry passes.
        assert await store.count_live(now + 601) == 0
        with redis_server.admin() as admin:
            assert admin.zcard(LIVE_SESSIONS_KEY) == 0
        # A touch keeps a session counted past its original expiry.
        touched = await store.create("c@x", KEYPAIR, now)
        assert await store.touch(session_hash(touched.session_id), now + 300) is not None
        assert await store.count_live(now + 601) == 1
    finally:
        await client.aclose()
