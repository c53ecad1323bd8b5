"""The signer as a component, without supervisord: an in-process ``SignerService`` on a real ipc
socket, a real redis-server holding a sealed secret record, a real etcd for its Web API Group, and
the development Manager (which verifies signatures) as a real aiohttp server."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
import zmq
import zmq.asyncio
from aiohttp import web

from contract.config import parse_config
from contract.etcd_layout import AgentState
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE
from contract.messages import MessageOpener, MessageSealer
from contract.redis_layout import SecretRecord, secret_key, session_hash
from contract.requests import SIGN, STORE_UNAVAILABLE, SigningReply, SigningRequest
from devstack.app import create_app
from devstack.users import UserDirectory
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets, load_secret_box, load_shared_key
from service_runtime.settings import Settings
from signer_worker.service import SignerService
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.servers import start_etcd, start_redis

ADMIN = next(user for user in UserDirectory.with_defaults() if user.access_key == "AKIAIOSFODNN7EXAMPLE")
SESSION_ID = "component-session-0123456789abcdef0123456789abcdef"


@pytest.fixture
async def manager():
    app = create_app()
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", app
    await runner.cleanup()


@pytest.fixture
def short_dir():
    path = Path(tempfile.mkdtemp(prefix="sgc-", dir="/tmp"))  # ipc paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Channel:
    def __init__(self, endpoint: str, key: bytes, max_age: float):
        self._context = zmq.asyncio.Context()
        self.socket = self._context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self._sealer, self._opener = MessageSealer(key, max_age), MessageOpener(key, max_age)
        self._rids = itertools.count(1)

    async def sign(self, **fields) -> SigningReply:
        return (await self.sign_items([SigningRequest(rid=next(self._rids), **fields).to_item()]))[0]

    async def sign_items(self, items: list[dict]) -> list[SigningReply]:
        """The replies to ``items`` sent as one message (a batch), in their order."""
        await self.socket.send_multipart(self._sealer.seal(SIGN, items))
        frames = await asyncio.wait_for(self.socket.recv_multipart(), 5.0)
        return [SigningReply.from_item(item) for item in self._opener.open(frames).items]

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()


@pytest.fixture
async def signer(manager, short_dir):
    url, app = manager
    secrets_dir = short_dir / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle = start_redis(short_dir, secrets_dir)
    etcd = start_etcd(short_dir)
    config = parse_config(
        {
            "api": {"endpoint": [url]},
            "session": {"redis": {"addr": redis_handle.addr}},
            "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
            "runtime": {"state_dir": str(short_dir / "state"), "secrets_dir": str(secrets_dir)},
            "zmq": {"ipc_dir": str(short_dir / "ipc")},
        }
    )
    service = SignerService(Settings(config, [url]), "agent-c1", "DEFAULT", instruments=Instruments("signer"))
    await service.start()
    channel = None
    try:
        await eventually(lambda: service._bound, timeout=20, what="signer bound")
        channel = Channel(service.endpoint, load_shared_key(secrets_dir / ZMQ_KEY_FILE), config.zmq.max_message_age)
        box = load_secret_box(secrets_dir / AT_REST_KEY_FILE)
        digest = session_hash(SESSION_ID)
        record = SecretRecord(ADMIN.access_key, ADMIN.secret_key, "superadmin", time.time() + 600, ADMIN.email)
        with redis_handle.admin() as admin:
            admin.set(secret_key(digest), box.seal(digest, record))
        yield service, channel, redis_handle, url
    finally:
        if channel is not None:
            channel.close()
        await service.stop()
        redis_handle.stop()
        etcd.stop()


def _request(url: str, **overrides) -> dict:
    fields = {
        "session_id": SESSION_ID,
        "method": "GET",
        "target": "/func/",
        "host": url.removeprefix("http://"),
        "content_type": "application/json",
        "api_version": "v8.20240915",
    }
    fields.update(overrides)
    return fields


async def test_a_stop_closes_the_zmq_context(signer):
    """Left open, each stopped signer's context warned "Unclosed context" when collected (ResourceWarning,
    a dozen per test run) and held its I/O thread until then."""
    service = signer[0]
    await service.stop()
    assert service._context.closed
    await service.stop()  # the fixture stops it again: a second stop is harmless


async def test_signs_a_request_the_manager_verifies(signer):
    _service, channel, _redis, url = signer
    fields = _request(url, target="/dev/echo-headers")  # answers only once the signature verifies
    reply = await channel.sign(**fields)
    assert reply.error is None, reply.error
    headers = {
        **reply.headers,
        "Host": fields["host"],
        "Content-Type": "application/json",
        "X-BackendAI-Version": fields["api_version"],
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/dev/echo-headers", headers=headers) as response:
            assert response.status == 200, await response.text()
        # A signature is bound to its request: the same headers on another path are refused.
        async with http.get(url + "/dev/echo-headers/other", headers=headers) as other:
            assert other.status in (401, 403), await other.text()


async def test_refuses_unknown_sessions_hosts_and_deployments(signer):
    _service, channel, _redis, url = signer
    assert (await channel.sign(**_request(url, session_id="no-such-session-" + "0" * 32))).error == "no_session"
    assert (await channel.sign(**_request(url, host="evil.example.com:443"))).error == "host_not_allowed"
    assert (await channel.sign(**_request(url, deployment="nowhere"))).error == "deployment_not_served"


def _signatures(service: SignerService) -> dict[str, float]:
    """The signer's count of answers by result, as its registry exposes it."""
    return {
        sample.labels["result"]: sample.value
        for metric in service._signatures.family.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["agent"] == "agent-c1"
    }


async def test_every_answer_of_a_batch_is_counted_by_its_result(signer):
    # Signed answers are counted once a message, refusals one by one: a batch mixing them must come
    # out as if each had been counted alone.
    service, channel, _redis, url = signer
    rids = itertools.count(100)
    good = [SigningRequest(next(rids), **_request(url)).to_item() for _ in range(3)]
    wrong_host = SigningRequest(next(rids), **_request(url, host="evil.example.com:443")).to_item()
    malformed = {**SigningRequest(next(rids), **_request(url)).to_item(), "method": "get me"}
    replies = await channel.sign_items([good[0], wrong_host, good[1], malformed, good[2]])
    assert [reply.error for reply in replies] == [None, "host_not_allowed", None, "bad_request", None]
    await eventually(
        lambda: _signatures(service) == {"signed": 3.0, "host_not_allowed": 1.0, "bad_request": 1.0},
        timeout=5,
        what="every answer counted",
    )
    await channel.sign_items(good[:2])  # (new rids are not needed: the signer keeps no state per rid)
    await eventually(lambda: _signatures(service)["signed"] == 5.0, timeout=5, what="a second batch counted")


async def test_answers_store_unavailable_with_redis_down(signer):
    service, channel, redis_handle, url = signer
    redis_handle.stop()
    await eventually(lambda: not service.cache.listener.live, timeout=10, what="invalidations down")
    reply = await channel.sign(**_request(url))
    assert reply.error == STORE_UNAVAILABLE


@pytest.fixture
def readiness_reported_only_on_change(monkeypatch):
    # With no periodic report to fall back on, an Up report can only come from the change itself.
    monkeypatch.setattr("signer_worker.service.READINESS_INTERVAL", 3600.0)


async def test_reports_up_as_soon_as_it_can_sign(readiness_reported_only_on_change, signer):
    service, _channel, _redis, _url = signer
    await eventually(lambda: service.registration.record.state == AgentState.UP, timeout=10, what="reported Up")
