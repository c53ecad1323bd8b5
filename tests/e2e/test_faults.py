"""Failures: Manager down, signers killed or absent, garbage on the ZeroMQ sockets, Redis ACLs."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import redis
import zmq
import zmq.asyncio
from yarl import URL

from contract.host_layout import session_daemon_endpoint, signer_endpoint
from tests.support.http_probe import signed_call_works
from tests.support.polling import eventually_sync
from tests.support.stack import ADMIN_USER

pytestmark = pytest.mark.slow


async def test_manager_down_gives_502_quickly(admin, stack):
    assert "stopped" in stack.supervisorctl("stop", "devstack").lower()
    try:
        started = time.monotonic()
        async with admin.get("/func/auth?echo=x") as response:
            assert response.status == 502
            body = await response.json()
        assert time.monotonic() - started < 1.0
        assert body["type"] == "https://api.backend.ai/probs/bad-gateway"
        async with admin.post("/server/logout"):
            pass
        async with admin.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as response:
            assert response.status == 502
    finally:
        stack.supervisorctl("start", "devstack")
    eventually_sync(lambda: signed_call_works(stack.base_url, *ADMIN_USER), 20, 0.2, what="a signed call")


async def test_signer_killed_under_load_fails_no_request(admin, stack):
    victims = stack.pids("signers:")
    assert len(victims) == stack.config.signers.count >= 2
    results: list[int] = []

    async def one_call(i: int) -> None:
        async with admin.get(f"/func/auth?echo={i}") as response:
            await response.read()
            results.append(response.status)

    async def load() -> None:
        for batch in range(30):
            await asyncio.gather(*(one_call(batch * 10 + i) for i in range(10)))

    async def assassin() -> None:
        await asyncio.sleep(0.3)
        os.kill(victims[0], signal.SIGKILL)

    await asyncio.gather(load(), assassin())
    assert len(results) == 300
    assert set(results) == {200}, {status: results.count(status) for status in set(results)}
    eventually_sync(lambda: len(stack.pids("signers:")) == stack.config.signers.count, 20, 0.2, what="every signer")


async def test_no_signer_gives_503(admin, stack):
    stack.supervisorctl("stop", "signers:*")
    try:
        await asyncio.sleep(0.5)
        async with admin.get("/func/auth?echo=x") as response:
            assert response.status == 503
            assert response.content_type == "application/problem+json"
    finally:
        stack.supervisorctl("start", "signers:*")
    eventually_sync(lambda: signed_call_works(stack.base_url, *ADMIN_USER), 20, 0.2, what="a signed call")


async def test_frontdoor_redis_user_cannot_read_secrets_or_write(admin, stack):
    owner = stack.admin_redis()
    secret_keys = owner.keys("websecret:*")
    session_keys = owner.keys("websession:*")
    assert secret_keys and session_keys
    frontdoor = stack.role_redis("frontdoor")
    assert frontdoor.get(session_keys[0]) is not None
    for forbidden in (
        lambda: frontdoor.get(secret_keys[0]),
        lambda: frontdoor.set(session_keys[0], "{}"),
        lambda: frontdoor.keys("*"),
        lambda: frontdoor.scan(0),
        lambda: frontdoor.delete(session_keys[0]),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()
    signer = stack.role_redis("signer")
    with pytest.raises(redis.exceptions.NoPermissionError):
        signer.get(session_keys[0])


async def test_secret_keys_are_not_stored_in_plaintext(admin, stack):
    owner = stack.admin_redis()
    dump = b"".join(owner.dump(key) or b"" for key in owner.keys("*"))
    assert b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" not in dump
    cookie_value = admin.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value
    assert cookie_value.encode() not in dump and cookie_value.encode() not in b"".join(owner.keys("*"))


@pytest.mark.parametrize("target", ["signer", "daemon"])
async def test_malformed_zeromq_frames_are_ignored(admin, stack, target):
    endpoint = (
        signer_endpoint(stack.config, stack_agent_id(stack))
        if target == "signer"
        else session_daemon_endpoint(stack.config)
    )
    context = zmq.asyncio.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        junk = [[b""], [b"x" * 10], [os.urandom(64), os.urandom(32)], [b'{"v":1}', b"\0" * 32], [b"{}", b"", b""]]
        junk += [[os.urandom(96)], [b'{"v":1}' + b"\0" * 32]]  # one frame, as a message is: a body and a MAC
        for frames in junk * 20:
            await socket.send_multipart(frames)
        await asyncio.sleep(0.3)
        assert await socket.poll(200) == 0  # nothing is ever answered to an unauthenticated message
    finally:
        socket.close()
        context.term()
    for i in range(20):
        async with admin.get(f"/func/auth?echo={i}") as response:
            assert response.status == 200
    assert len(stack.pids("signers:")) == stack.config.signers.count
    assert len(stack.pids("session_daemon")) == 1


def stack_agent_id(stack) -> str:
    import socket as sock

    return f"{sock.gethostname()}-signer-0"
