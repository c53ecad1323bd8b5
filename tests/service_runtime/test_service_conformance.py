"""What every ZeroMQ service built on ``service_runtime.channel_server`` promises, run over each of them.

As oauth2-proxy runs one suite over every session store, this runs one suite over the signer's service
and the session daemon's: the real services on a real ipc socket, with a real redis-server (and the
signer's etcd).  The promises: only sealed messages are answered (anything unauthenticated, tampered,
expired, future-dated, replayed, malformed, oversize is dropped and counted, never answered); a message
of the wrong kind gets each item a typed rejection; every item of a batch is answered, a bad item
without spoiling the others; replies reach the requester that asked, among several; a stop fails the
items in flight at once (the requester is told, it does not wait out its timeout); no bad input makes
a traceback in the log.  What each service answers beyond that is tested beside it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import zmq
import zmq.asyncio

from contract.config import parse_config
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE
from contract.messages import MAC_BYTES, MAX_FRAME_BYTES, PROTOCOL_VERSION, MessageOpener, MessageSealer
from contract.redis_layout import SecretRecord, secret_key, session_hash
from contract.requests import SESSION, SIGN, SigningReply, SigningRequest
from contract.session_commands import SessionRequest, Touch
from contract.session_results import InvalidCommand, SessionReply, SessionUnknown
from service_runtime.channel_client import DealerChannel, PeerLost
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets, load_secret_box, load_shared_key
from service_runtime.settings import Settings
from session_daemon.service import SessionDaemon
from signer_worker.service import SignerService
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.servers import EtcdHandle, RedisHandle, start_etcd, start_redis

# Long enough that an item waiting on a paused Redis cannot be answered while a test watches the stop.
STORE_TIMEOUT = 20.0
# How long Redis is paused under an item in flight: longer than a stop may take to fail it, and the
# limit of the test's wait (a paused Redis also holds the CLIENT UNPAUSE of any connection).
PAUSE = 6.0
FAST = 3.0
MAX_AGE = 5.0
SIGNED_SESSION = "conformance-session-0123456789abcdef0123456789ab"
UNCACHED_SESSION = "conformance-uncached-0123456789abcdef0123456789"


@dataclass
class Subject:
    """One service under the suite, and what its items look like."""

    name: str
    kind: str  # the message kind it serves
    endpoint: str
    key: bytes
    server: RouterServer
    redis: RedisHandle
    good_item: Callable[[int], dict[str, Any]]  # answered in the ordinary way
    answered: Callable[[dict[str, Any]], bool]  # an ordinary answer
    bad_item: Callable[[int], dict[str, Any]]  # fails the item's own validation
    refused: Callable[[dict[str, Any]], bool]  # the service's typed rejection of an item
    slow_item: Callable[[int], dict[str, Any]]  # needs Redis to answer
    stop: Callable[[], Awaitable[None]]


# ---- infrastructure shared by the module ----


@pytest.fixture(scope="module")
def short_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="conf-", dir="/tmp"))  # ipc paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def secrets_dir(short_dir: Path) -> Path:
    path = short_dir / "secrets"
    ensure_secrets(path)
    return path


@pytest.fixture(scope="module")
def redis_server(short_dir: Path, secrets_dir: Path) -> RedisHandle:
    handle = start_redis(short_dir, secrets_dir)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def etcd_server(short_dir: Path) -> EtcdHandle:
    handle = start_etcd(short_dir)
    yield handle
    handle.stop()


def _settings(short_dir: Path, secrets_dir: Path, redis: RedisHandle, etcd: EtcdHandle, name: str) -> Settings:
    manager = f"http://127.0.0.1:{free_port()}"  # never called: no item of the suite reaches the Manager
    config = parse_config(
        {
            "api": {"endpoint": [manager]},
            "session": {"redis": {"addr": redis.addr, "redis_helper_config": {"socket_timeout": STORE_TIMEOUT}}},
            "signers": {"request_timeout": 2 * STORE_TIMEOUT},
            "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
            "runtime": {"state_dir": str(short_dir / name / "state"), "secrets_dir": str(secrets_dir)},
            "zmq": {"ipc_dir": str(short_dir / name / "ipc"), "max_message_age": MAX_AGE},
        }
    )
    return Settings(config, [manager])


# ---- the two services ----


async def _session_daemon(settings: Settings, redis: RedisHandle) -> Subject:
    daemon = SessionDaemon(settings, instruments=Instruments())
    await daemon.start()
    return Subject(
        name="session_daemon",
        kind=SESSION,
        endpoint=daemon.endpoint,
        key=load_shared_key(settings.config.secrets_dir / ZMQ_KEY_FILE),
        server=daemon.server,
        redis=redis,
        good_item=lambda rid: SessionRequest(rid, Touch("0" * 32)).to_wire(),
        answered=lambda item: SessionReply.from_wire(item).result == SessionUnknown(),
        bad_item=lambda rid: {"rid": rid, "op": "touch", "args": {"session_id": 7}},
        refused=lambda item: isinstance(SessionReply.from_wire(item).result, InvalidCommand),
        slow_item=lambda rid: SessionRequest(rid, Touch("1" * 32)).to_wire(),
        stop=daemon.stop,
    )


async def _signer(settings: Settings, redis: RedisHandle) -> Subject:
    config = settings.config
    digest = session_hash(SIGNED_SESSION)
    record = SecretRecord("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "user", time.time() + 600, "a@b.c")
    with redis.admin() as admin:
        admin.set(secret_key(digest), load_secret_box(config.secrets_dir / AT_REST_KEY_FILE).seal(digest, record))
    service = SignerService(settings, "agent-conf", "DEFAULT", instruments=Instruments())
    await service.start()
    await eventually(lambda: service._bound, timeout=20, what="signer bound")
    host = settings.manager_endpoints[0].removeprefix("http://")

    def request(rid: int, session_id: str) -> dict[str, Any]:
        return SigningRequest(rid, session_id, "GET", "/func/", host, "application/json", "v8.20240915").to_item()

    def refused(item: dict[str, Any]) -> bool:
        return SigningReply.from_item(item).error in ("bad_request", "wrong_kind")

    return Subject(
        name="signer",
        kind=SIGN,
        endpoint=service.endpoint,
        key=load_shared_key(config.secrets_dir / ZMQ_KEY_FILE),
        server=service.server,
        redis=redis,
        good_item=lambda rid: request(rid, SIGNED_SESSION),
        answered=lambda item: "Authorization" in SigningReply.from_item(item).headers,
        bad_item=lambda rid: {**request(rid, SIGNED_SESSION), "method": "get me"},
        refused=refused,
        slow_item=lambda rid: request(rid, UNCACHED_SESSION),
        stop=service.stop,
    )


SERVICES = {"session_daemon": _session_daemon, "signer": _signer}


@pytest.fixture(params=list(SERVICES))
async def subject(request, short_dir, secrets_dir, redis_server, etcd_server, caplog) -> AsyncIterator[Subject]:
    caplog.set_level("INFO")
    settings = _settings(short_dir, secrets_dir, redis_server, etcd_server, request.param)
    built = await SERVICES[request.param](settings, redis_server)
    stopped = False
    real_stop = built.stop

    async def stop_once() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            await real_stop()

    built.stop = stop_once
    try:
        yield built
    finally:
        with redis_server.admin() as admin:
            admin.execute_command("CLIENT", "UNPAUSE")
        await stop_once()
    # No bad input of any test may have made a traceback (the records of the test itself, not of this teardown).
    tracebacks = [record.getMessage() for record in caplog.get_records("call") if record.exc_info]
    assert not tracebacks, f"a traceback was logged: {tracebacks}"


class Peer:
    """A requester: a DEALER with the shared key, sending what a test makes of its frames."""

    def __init__(self, subject: Subject):
        self.subject = subject
        self._context = zmq.asyncio.Context()
        self.socket = self._context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(subject.endpoint)
        self.sealer = MessageSealer(subject.key, MAX_AGE)
        self._opener = MessageOpener(subject.key, MAX_AGE)

    async def send(self, frames: list[bytes]) -> None:
        await self.socket.send_multipart(frames)

    async def replies_until(self, rids: set[int]) -> list[dict[str, Any]]:
        """Every reply item received until each of ``rids`` is answered (others included, to be checked)."""
        items: list[dict[str, Any]] = []
        while not rids <= {item.get("rid") for item in items}:
            frames = await asyncio.wait_for(self.socket.recv_multipart(), 10.0)
            items.extend(self._opener.open(frames).items)
        return items

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()


@pytest.fixture
def peer(subject: Subject) -> Peer:
    made = Peer(subject)
    yield made
    made.close()


def _signed(key: bytes, body: bytes) -> list[bytes]:
    return [body + hmac.new(key, body, hashlib.sha256).digest()]


def _document(kind: str, items: Any, *, exp_in: float = MAX_AGE) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "kind": kind, "id": "f" * 24, "exp": time.time() + exp_in, "items": items}


def _tampered(sealed: list[bytes]) -> list[bytes]:
    body = json.loads(sealed[0][:-MAC_BYTES])
    body["items"][0]["rid"] += 1
    return [json.dumps(body, separators=(",", ":")).encode() + sealed[0][-MAC_BYTES:]]


def _two_frames(sealed: list[bytes]) -> list[bytes]:
    """An authentic message with its MAC in a frame of its own (the hop's previous framing)."""
    return [sealed[0][:-MAC_BYTES], sealed[0][-MAC_BYTES:]]


# (what is wrong, how to make it from a subject and a rid, the reason it is counted under)
UNACCEPTABLE = [
    ("unauthenticated", lambda s, rid: MessageSealer(bytes(32), MAX_AGE).seal(s.kind, [s.good_item(rid)]), "bad_mac"),
    ("tampered", lambda s, rid: _tampered(MessageSealer(s.key, MAX_AGE).seal(s.kind, [s.good_item(rid)])), "bad_mac"),
    ("expired", lambda s, rid: MessageSealer(s.key, -1.0).seal(s.kind, [s.good_item(rid)]), "expired"),
    ("future-dated", lambda s, rid: MessageSealer(s.key, MAX_AGE + 60).seal(s.kind, [s.good_item(rid)]), "future"),
    (
        "two-frames",
        lambda s, rid: _two_frames(MessageSealer(s.key, MAX_AGE).seal(s.kind, [s.good_item(rid)])),
        "frame_count",
    ),
    ("shorter-than-a-mac", lambda s, rid: [b"\0" * (MAC_BYTES - 1)], "frame_count"),
    ("not-json", lambda s, rid: _signed(s.key, b"{not json"), "not_json"),
    ("no-items-list", lambda s, rid: _signed(s.key, json.dumps(_document(s.kind, {"rid": rid})).encode()), "schema"),
    (
        "oversize",
        lambda s, rid: _signed(
            s.key, json.dumps(_document(s.kind, [{"rid": rid, "pad": "x" * MAX_FRAME_BYTES}])).encode()
        ),
        "too_large",
    ),
]


@pytest.mark.parametrize("make, reason", [case[1:] for case in UNACCEPTABLE], ids=[case[0] for case in UNACCEPTABLE])
async def test_unacceptable_messages_are_dropped_counted_and_never_answered(subject, peer, make, reason):
    await peer.send(make(subject, 1))
    await peer.send(peer.sealer.seal(subject.kind, [subject.good_item(2)]))
    replies = await peer.replies_until({2})
    assert [item["rid"] for item in replies] == [2]  # nothing came back for the dropped message
    assert subject.answered(replies[0])
    assert dict(subject.server.rejected) == {reason: 1}


async def test_a_replayed_message_is_answered_once(subject, peer):
    sealed = peer.sealer.seal(subject.kind, [subject.good_item(1)])
    await peer.send(sealed)
    await peer.send(sealed)
    await peer.send(peer.sealer.seal(subject.kind, [subject.good_item(2)]))
    replies = await peer.replies_until({1, 2})
    assert sorted(item["rid"] for item in replies) == [1, 2]
    assert dict(subject.server.rejected) == {"replay": 1}


async def test_a_message_of_the_wrong_kind_gets_each_item_a_typed_rejection(subject, peer):
    await peer.send(peer.sealer.seal("not-" + subject.kind, [subject.good_item(1), subject.good_item(2)]))
    replies = await peer.replies_until({1, 2})
    assert sorted(item["rid"] for item in replies) == [1, 2]
    assert all(subject.refused(item) for item in replies)


async def test_every_item_of_a_batch_is_answered_and_a_bad_one_spoils_none(subject, peer):
    items = [subject.good_item(1), subject.bad_item(2), subject.good_item(3), {"rid": 4}, subject.good_item(5)]
    await peer.send(peer.sealer.seal(subject.kind, items))
    replies = {item["rid"]: item for item in await peer.replies_until({1, 2, 3, 4, 5})}
    assert sorted(replies) == [1, 2, 3, 4, 5]
    assert [subject.answered(replies[rid]) for rid in (1, 3, 5)] == [True] * 3
    assert subject.refused(replies[2]) and subject.refused(replies[4])
    assert not subject.server.rejected


async def test_replies_reach_the_requester_that_asked(subject):
    """Several requesters at once, each with request ids of its own: a reply routed to the wrong one shows."""
    peers = [Peer(subject) for _ in range(4)]
    try:
        batches = {index: list(range(index * 100, index * 100 + 20)) for index in range(len(peers))}
        for index, each in enumerate(peers):
            for rid in batches[index]:  # one message per item, interleaved across the requesters
                await each.send(each.sealer.seal(subject.kind, [subject.good_item(rid)]))
        got = await asyncio.gather(*(each.replies_until(set(batches[i])) for i, each in enumerate(peers)))
        for index, replies in enumerate(got):
            assert sorted(item["rid"] for item in replies) == batches[index]
            assert all(subject.answered(item) for item in replies)
    finally:
        for each in peers:
            each.close()


async def test_a_stop_fails_items_in_flight_at_once(subject):
    """An item waiting on Redis when the service stops: its requester (the front door's channel client)
    learns at once that the peer is gone, instead of waiting out its timeout."""
    context = zmq.asyncio.Context()
    channel = DealerChannel(context, subject.endpoint, subject.key, MAX_AGE, subject.kind, instruments=Instruments())
    stopping: asyncio.Future | None = None
    try:
        await eventually(lambda: channel.connected, timeout=5, what="channel connected")
        with subject.redis.admin() as admin:
            admin.execute_command("CLIENT", "PAUSE", int(PAUSE * 1000))
        asked = asyncio.ensure_future(channel.request(subject.slow_item, timeout=STORE_TIMEOUT))
        await eventually(lambda: subject.server.in_flight, timeout=5, what="item in flight")
        stopping = asyncio.ensure_future(subject.stop())
        started = time.monotonic()
        outcome = (await asyncio.gather(asked, return_exceptions=True))[0]
        assert time.monotonic() - started < FAST
        assert isinstance(outcome, PeerLost) or subject.answered(outcome) or subject.refused(outcome), outcome
    finally:
        with subject.redis.admin() as admin:
            admin.execute_command("CLIENT", "UNPAUSE")
        if stopping is not None:
            await stopping
        channel.close()
        context.term()


async def test_requests_keep_their_request_ids_across_many_rids(subject, peer):
    """Request ids are the requester's: large and sparse ones come back unchanged."""
    rids = [0, 1, 2**31, 2**53 - 1, *itertools.islice(itertools.count(10_000, 997), 5)]
    await peer.send(peer.sealer.seal(subject.kind, [subject.good_item(rid) for rid in rids]))
    replies = await peer.replies_until(set(rids))
    assert sorted(item["rid"] for item in replies) == sorted(rids)
