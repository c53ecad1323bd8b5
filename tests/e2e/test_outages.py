"""Outages of what the front door depends on: Redis restarted, the session daemon away, a signer
asked while Redis is down.  Every answer meanwhile is a fast 503 (problem+json on the API, a page for
a browser), never a 500, a hang or a traceback in the logs; sessions outlive a Redis restart."""

from __future__ import annotations

import asyncio
import json
import os
import socket as socket_module
import subprocess
import time

import aiohttp
import pytest
import zmq
import zmq.asyncio

from contract.etcd_layout import AgentRecord, AgentState, agents_prefix
from contract.host_layout import ZMQ_KEY_FILE, signer_endpoint
from contract.messages import MessageOpener, MessageSealer
from contract.requests import SIGN, SigningRequest
from contract.webapi import STORE_DOWN_FAULT
from service_runtime.keyfiles import load_shared_key
from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow

FAST = 2.0  # seconds: what "fast" means for an answer during an outage
# Well under [signers] pool_wait (10 s): a front door that waited for a signer would take that long.
PROMPT = 3.0
STORE_DOWN_TITLE = "The session store is unavailable."  # problems.session_store_down
PROBLEM = "application/problem+json"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("outages")).start()
    yield running
    running.stop()


async def logged_in(stack) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=10)
    )
    async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
        assert answer.status == 200
    return session


async def timed(session: aiohttp.ClientSession, method: str, path: str, **options) -> tuple[int, str, str, float]:
    started = time.monotonic()
    async with session.request(method, path, **options) as answer:
        text = await answer.text()
        return answer.status, answer.content_type, text, time.monotonic() - started


def logs_of(stack, *prefixes: str) -> str:
    directory = stack.config.runtime.state_dir / "logs"
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(directory.glob("*.log")) if path.name.startswith(prefixes)
    )


async def test_redis_restart_keeps_sessions_and_answers_fast_503s_meanwhile(stack):
    session = await logged_in(stack)
    try:
        assert (await timed(session, "GET", "/func/auth?echo=before"))[0] == 200
        assert "stopped" in stack.supervisorctl("stop", "redis").lower()
        seen: list[int] = []

        async def api_says_503() -> bool:
            status, content_type, _text, elapsed = await timed(session, "GET", "/func/auth?echo=during")
            seen.append(status)
            assert status in (200, 503) and elapsed < FAST, (status, elapsed)
            return status == 503 and content_type == PROBLEM

        # Memory may vouch for the session until the invalidation channel notices the outage.
        await eventually(api_says_503, timeout=10, what="a 503 from the proxy while Redis is down")
        status, content_type, text, elapsed = await timed(session, "POST", "/server/login-check")
        assert (status, content_type) == (503, PROBLEM) and elapsed < FAST
        status, content_type, text, elapsed = await timed(session, "GET", "/ui/", headers=HTML)
        assert (status, content_type) == (503, "text/html") and elapsed < FAST and "<html" in text.lower()
        assert 500 not in seen
        stack.supervisorctl("start", "redis")

        async def signs_again() -> bool:
            return (await timed(session, "GET", "/func/auth?echo=after"))[0] == 200

        await eventually(signs_again, timeout=15, what="the same session signing again after Redis came back")
        # And a plain restart (the embedded Redis persists in its append-only file): still logged in.
        assert "started" in stack.supervisorctl("restart", "redis").lower()
        await eventually(signs_again, timeout=15, what="the same session signing after a Redis restart")
        logs = logs_of(stack, "frontdoor", "signer", "session_daemon")
        assert "Traceback" not in logs
    finally:
        stack.supervisorctl("start", "redis")
        await session.close()


async def test_a_signer_answers_store_unavailable_at_once_while_redis_is_down(stack):
    """Asked for a session it has not cached, a signer cannot read Redis: it says so (the front
    door answers 503 at once) instead of staying silent until the request times out."""
    key = load_shared_key(stack.config.secrets_dir / ZMQ_KEY_FILE)
    agent = f"{socket_module.gethostname()}-signer-0"
    context = zmq.asyncio.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(signer_endpoint(stack.config, agent))
    stack.supervisorctl("stop", "redis")
    try:
        request = SigningRequest(
            rid=7,
            session_id="not-cached-" + "x" * 32,
            method="GET",
            target="/auth",
            host=f"127.0.0.1:{stack.ports.manager}",
            content_type="application/octet-stream",
            api_version=stack.config.api.default_version,
            want_jwt=False,
            request_id="outage",
            deployment="manager",
        )
        sealer = MessageSealer(key, stack.config.zmq.max_message_age)
        await socket.send_multipart(sealer.seal(SIGN, [request.to_item()]))
        assert await socket.poll(int(FAST * 1000)), "the signer sent no answer"
        reply = MessageOpener(key, stack.config.zmq.max_message_age).open(await socket.recv_multipart())
        assert reply.items[0]["error"] == "store_unavailable"
    finally:
        socket.close()
        context.term()
        stack.supervisorctl("start", "redis")
    assert "Traceback" not in logs_of(stack, "signer")


async def test_login_while_the_session_daemon_is_away_is_a_fast_503_and_no_false_alarm(stack):
    visitor = aiohttp.ClientSession(
        stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=10)
    )
    assert "stopped" in stack.supervisorctl("stop", "session_daemon").lower()
    try:
        credentials = {"username": ADMIN_USER[0], "password": ADMIN_USER[1]}
        status, content_type, _text, elapsed = await timed(visitor, "POST", "/server/login", json=credentials)
        assert (status, content_type) == (503, PROBLEM) and elapsed < FAST + 1
        form = {"username": ADMIN_USER[0], "password": ADMIN_USER[1]}
        status, content_type, text, elapsed = await timed(
            visitor, "POST", "/ui/login", data=form, headers={**HTML, "Origin": stack.base_url}
        )
        assert status == 503 and content_type == "text/html" and elapsed < FAST + 1, (status, text[:300])
    finally:
        stack.supervisorctl("start", "session_daemon")
    await eventually(lambda: _logs_in(visitor), timeout=15, what="a login once the daemon is back")
    await visitor.close()
    await asyncio.sleep(0)  # nothing else to wait for: messages from the outage were never queued
    assert "security_violation" not in logs_of(stack, "session_daemon")


async def _logs_in(session: aiohttp.ClientSession) -> bool:
    async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
        return answer.status == 200


def signer_records(stack) -> list[AgentRecord]:
    """The signers' registrations as etcd holds them (the front door's API needs Redis for a session)."""
    done = subprocess.run(
        ["etcdctl", f"--endpoints=127.0.0.1:{stack.ports.etcd}", "get", "--prefix", "--print-value-only"]
        + [agents_prefix(stack.config).decode()],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    return [AgentRecord.from_json(line) for line in done.stdout.splitlines() if line.strip()]


def signers_down_for_the_store(stack) -> bool:
    records = signer_records(stack)
    return len(records) == stack.config.signers.count and all(
        (r.state, r.fault) == (AgentState.DOWN, STORE_DOWN_FAULT) for r in records
    )


async def assert_store_down_at_once(session: aiohttp.ClientSession) -> None:
    """A proxied call answered with the session store's 503 problem, well before pool_wait."""
    status, content_type, text, elapsed = await timed(session, "GET", "/func/auth?echo=store-down")
    assert (status, content_type) == (503, PROBLEM), (status, f"{elapsed:.2f} s", text[:300])
    assert json.loads(text)["title"] == STORE_DOWN_TITLE, (f"{elapsed:.2f} s", text)
    assert elapsed < PROMPT, f"the 503 took {elapsed:.2f} s: waited for a signer instead of failing fast"


async def test_redis_stopped_makes_signers_report_store_down_and_the_proxy_a_prompt_503(stack):
    session = await logged_in(stack)
    try:
        assert (await timed(session, "GET", "/func/auth?echo=before"))[0] == 200
        assert "stopped" in stack.supervisorctl("stop", "redis").lower()
        await eventually(lambda: signers_down_for_the_store(stack), timeout=15, what="signers Down for the store")
        await assert_store_down_at_once(session)
        assert "started" in stack.supervisorctl("start", "redis").lower()

        async def signs_again() -> bool:
            return (await timed(session, "GET", "/func/auth?echo=after"))[0] == 200

        await eventually(signs_again, timeout=15, what="the same session signing once Redis is back")
    finally:
        stack.supervisorctl("start", "redis")
        await session.close()


async def test_redis_lost_at_the_signers_only_is_a_prompt_503_not_a_wait_for_a_signer(stack):
    """The front door still reads the session (its own Redis user works) but no signer can: the
    signers' ACL user is switched off and their connections cut, as a partition between the signers
    and Redis would.  The front door knows from their Down/store_unavailable that waiting is useless."""
    session = await logged_in(stack)
    admin = stack.admin_redis()
    try:
        assert (await timed(session, "GET", "/func/auth?echo=before"))[0] == 200
        admin.acl_setuser("signer", enabled=False)
        admin.client_kill_filter(user="signer")
        await eventually(lambda: signers_down_for_the_store(stack), timeout=15, what="signers Down for the store")
        await assert_store_down_at_once(session)
        admin.acl_setuser("signer", enabled=True)

        async def signs_again() -> bool:
            return (await timed(session, "GET", "/func/auth?echo=after"))[0] == 200

        await eventually(signs_again, timeout=15, what="the same session signing once the signers reach Redis")
    finally:
        admin.acl_setuser("signer", enabled=True)
        admin.close()
        await session.close()
