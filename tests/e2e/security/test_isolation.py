"""The isolation promise, tested on live processes: the front door never holds a secret key, Redis
holds neither a usable cookie nor a plaintext key, and an ended session is refused by every signer
at once.  Also: a flood of garbage on the signers' sockets leaves them serving."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import aiohttp
import pytest
import zmq
import zmq.asyncio
from yarl import URL

from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE, session_daemon_endpoint, signer_endpoint
from contract.messages import MAC_BYTES, MessageSealer
from contract.redis_layout import SecretRecord, SessionRecord, secret_key, session_hash, session_key
from contract.requests import SIGN, SigningReply, SigningRequest
from contract.session_commands import RevokeUser
from contract.session_results import UserRevoked
from devstack.users import default_users
from frontdoor.daemon_client import SessionDaemonClient
from frontdoor.websocket import SESSION_ENDED
from service_runtime.channel_client import DealerChannel
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import load_secret_box, load_shared_key
from tests.e2e.security.conftest import log_in
from tests.e2e.security.test_rate_limits import MONITOR_USER, reset_counters
from tests.support.memscan import encodings_of, scan_process
from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow
USERS = {user.email: user for user in default_users()}
LOGGED_IN = (ADMIN_USER, NORMAL_USER, MONITOR_USER)


def needles_of(users) -> dict[str, bytes]:
    return {
        f"{user[0]}:{form}": needle
        for user in users
        for form, needle in encodings_of(USERS[user[0]].secret_key).items()
    }


def cookie_of(session: aiohttp.ClientSession, stack) -> str:
    return session.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value


async def exercise(session: aiohttp.ClientSession) -> None:
    """Everything a browser does with a session: REST, GraphQL (JWT), a stream and a WebSocket."""
    async with session.get("/func/auth?echo=scan") as response:
        assert response.status == 200
    async with session.post("/func/admin/gql", json={"query": "{ me { email } }"}) as response:
        assert response.status == 200 and (await response.json())["extensions"]["auth_method"] == "jwt"
    async with session.ws_connect("/func/stream/echo") as ws:
        await ws.send_str("scan")
        assert (await ws.receive(timeout=5)).data == "scan"


async def test_secret_keys_are_nowhere_in_the_front_doors_memory(secure_stack):
    await reset_counters(secure_stack)
    sessions = [secure_stack.client() for _ in LOGGED_IN]
    try:
        for session, user in zip(sessions, LOGGED_IN):
            await log_in(session, user)
            await exercise(session)
        needles = needles_of(LOGGED_IN)
        front_doors = secure_stack.pids("frontdoor")
        assert len(front_doors) == 2
        for pid in front_doors:
            hits, scanned = scan_process(pid, needles)
            assert scanned > 20 << 20  # the whole process was read, not a corner of it
            assert sum(hits.values()) == 0, {label: count for label, count in hits.items() if count}
        # Positive control: the same scanner finds every key in the signers that signed with it.
        found = {user[0]: 0 for user in LOGGED_IN}
        raw_keys = {user[0]: USERS[user[0]].secret_key.encode() for user in LOGGED_IN}
        for pid in secure_stack.pids("signers:"):
            hits, _ = scan_process(pid, raw_keys)
            for email in found:
                found[email] += hits[email]
        assert all(found.values()), found
    finally:
        for session in sessions:
            await session.close()


async def test_redis_holds_no_usable_cookie_and_no_plaintext_secret(secure_stack):
    async with secure_stack.client() as session:
        await log_in(session, NORMAL_USER)
        cookie = cookie_of(session, secure_stack)
        owner = secure_stack.admin_redis()
        names = owner.keys("*")
        dump = b"".join(owner.dump(name) or b"" for name in names) + b" ".join(names)
        for label, needle in {
            **needles_of(LOGGED_IN),
            "cookie": cookie.encode(),
            "cookie-hex": cookie.encode().hex().encode(),
        }.items():
            assert needle not in dump, label


@pytest.fixture
async def signers(secure_stack):
    """A channel to every signer of the pool, as a front door would hold one."""
    context = zmq.asyncio.Context()
    key = load_shared_key(secure_stack.config.secrets_dir / ZMQ_KEY_FILE)
    channels = [
        DealerChannel(
            context,
            signer_endpoint(secure_stack.config, f"{socket.gethostname()}-signer-{index}"),
            key,
            secure_stack.config.zmq.max_message_age,
            SIGN,
            instruments=Instruments(),
        )
        for index in range(secure_stack.config.signers.count)
    ]
    # As a front door does, ask only once connected: nothing is queued for a peer not (yet) there.
    await eventually(lambda: all(channel.connected for channel in channels), timeout=10, what="signers connected")
    yield channels
    for channel in channels:
        channel.close()
    context.term()


async def sign_everywhere(channels, stack, session_id: str) -> list[SigningReply]:
    request = SigningRequest(
        0,
        session_id,
        "GET",
        "/auth?echo=direct",
        f"127.0.0.1:{stack.ports.manager}",
        "application/octet-stream",
        stack.config.api.default_version,
    )
    items = [await channel.request(lambda rid: {**request.to_item(), "rid": rid}, 2.0) for channel in channels]
    return [SigningReply.from_item(item) for item in items]


async def test_signers_refuse_unknown_and_expired_sessions(secure_stack, signers):
    replies = await sign_everywhere(signers, secure_stack, "0" * 32)
    assert [reply.error for reply in replies] == ["no_session"] * len(signers)
    # An expired record still in Redis (a clock jump, a missed expiry) must not be signed with.
    expired_id, user, now = "e" * 32, USERS[NORMAL_USER[0]], time.time()
    box = load_secret_box(secure_stack.config.secrets_dir / AT_REST_KEY_FILE)
    digest = session_hash(expired_id)
    owner = secure_stack.admin_redis()
    owner.set(
        secret_key(digest), box.seal(digest, SecretRecord(user.access_key, user.secret_key, "user", now - 1)), ex=60
    )
    owner.set(
        session_key(digest),
        SessionRecord(user.email, user.access_key, "user", "active", now - 100, now - 100, now - 1).to_json(),
        ex=60,
    )
    replies = await sign_everywhere(signers, secure_stack, expired_id)
    assert [reply.error for reply in replies] == ["no_session"] * len(signers)


async def test_logout_invalidates_every_signer_at_once(secure_stack, signers):
    async with secure_stack.client() as session:
        await log_in(session, NORMAL_USER)
        cookie = cookie_of(session, secure_stack)
        for _ in range(4):  # both front doors and both signers now hold the session
            async with session.get("/func/auth?echo=warm") as response:
                assert response.status == 200
        assert all(reply.error is None for reply in await sign_everywhere(signers, secure_stack, cookie))
        async with session.post("/server/logout") as response:
            assert response.status == 201
        replies = await sign_everywhere(signers, secure_stack, cookie)  # no wait: caches were told
        assert [reply.error for reply in replies] == ["no_session"] * len(signers)


async def test_revoking_a_user_ends_all_their_sessions_and_closes_their_websockets(secure_stack, signers):
    config = secure_stack.config
    context = zmq.asyncio.Context()
    daemon = SessionDaemonClient(
        context,
        session_daemon_endpoint(config),
        load_shared_key(config.secrets_dir / ZMQ_KEY_FILE),
        config.zmq.max_message_age,
        instruments=Instruments(),
    )
    tabs = [secure_stack.client() for _ in range(2)]
    bystander = secure_stack.client()
    try:
        for tab in tabs:
            await log_in(tab, NORMAL_USER)
        await log_in(bystander, ADMIN_USER)
        sockets = [await tab.ws_connect("/func/stream/echo") for tab in tabs]
        user_id = SessionRecord.from_json(
            secure_stack.admin_redis().get(session_key(session_hash(cookie_of(tabs[0], secure_stack))))
        ).user_id
        result = await daemon.call(RevokeUser(user_id))
        assert isinstance(result, UserRevoked) and result.count >= 2
        closed = await asyncio.gather(*(ws.receive(timeout=3) for ws in sockets))
        assert [(message.type, message.data) for message in closed] == [(aiohttp.WSMsgType.CLOSE, SESSION_ENDED)] * 2
        for tab in tabs:
            async with tab.get("/func/auth?echo=revoked") as response:
                assert response.status == 401
            replies = await sign_everywhere(signers, secure_stack, cookie_of(tab, secure_stack))
            assert [reply.error for reply in replies] == ["no_session"] * len(signers)
        async with bystander.get("/func/auth?echo=unaffected") as response:
            assert response.status == 200
    finally:
        for session in (*tabs, bystander):
            await session.close()
        daemon.close()
        context.term()


OVERSIZE = os.urandom(1_200_000)  # larger than any receiver accepts


def garbage_messages(key: bytes) -> list[list[bytes]]:
    """Every shape of bad message a compromised or broken peer could send."""
    sealer = MessageSealer(key, 5.0)
    authentic = sealer.seal(SIGN, [{"rid": 1, "session_id": "0" * 32}])
    junk_items = [
        None,
        1,
        "x",
        [],
        {"rid": -1},
        {"rid": True, "method": "GET"},
        {"rid": 2, "target": 7},
        {
            "rid": 3,
            "method": "get",
            "target": "/",
            "session_id": "a",
            "host": "h",
            "content_type": "c",
            "api_version": "v",
        },
        {"rid": 4, "session_id": "x" * 10_000},
    ]
    messages = [
        [b""],
        [b"x" * 10],
        [os.urandom(64), os.urandom(32)],
        [os.urandom(96)],
        [b'{"v":1}', b"\0" * 32],
        [b'{"v":1}' + b"\0" * 32],
        [b"{}", b"", b""],
        [OVERSIZE, os.urandom(32)],
        [OVERSIZE + os.urandom(32)],
        [b"\xff\xfe" * 50, os.urandom(32)],
        list(authentic),
        list(authentic),  # the second one is a replay
        MessageSealer(key, -1.0).seal(SIGN, []),  # expired
        MessageSealer(key, 3600.0).seal(SIGN, []),  # dated too far ahead
        sealer.seal("session", [{"rid": 5, "op": "logout"}]),  # the wrong kind of message for a signer
    ]
    messages += [sealer.seal(SIGN, [item]) for item in junk_items if isinstance(item, dict)]
    messages += [[sealer.seal(SIGN, [])[0][: -MAC_BYTES - 1] + b"]" + os.urandom(MAC_BYTES)]]
    messages += [[frame[:-MAC_BYTES], frame[-MAC_BYTES:]] for frame in sealer.seal(SIGN, [])]  # the MAC apart
    return messages


async def test_a_flood_of_garbage_frames_leaves_signers_serving(secure_stack, admin, signers):
    before = sorted(secure_stack.pids("signers:"))
    key = load_shared_key(secure_stack.config.secrets_dir / ZMQ_KEY_FILE)
    context = zmq.asyncio.Context()
    flooders = []
    for index in range(secure_stack.config.signers.count):
        flooder = context.socket(zmq.DEALER)
        flooder.setsockopt(zmq.LINGER, 0)
        flooder.setsockopt(zmq.SNDHWM, 100_000)
        flooder.connect(signer_endpoint(secure_stack.config, f"{socket.gethostname()}-signer-{index}"))
        flooders.append(flooder)
    statuses: list[int] = []

    async def flood() -> None:
        for round_number in range(150):
            batch = garbage_messages(key)  # fresh ids each round, so most authentic junk is not a replay
            for flooder in flooders:
                for frames in batch:
                    await flooder.send_multipart(frames)
            await asyncio.sleep(0)

    async def traffic() -> None:
        for i in range(100):
            async with admin.get(f"/func/auth?echo={i}") as response:
                statuses.append(response.status)

    try:
        await asyncio.gather(flood(), traffic())
    finally:
        for flooder in flooders:
            flooder.close()
        context.term()
    assert statuses == [200] * 100
    assert sorted(secure_stack.pids("signers:")) == before  # nobody crashed and was restarted
    cookie = cookie_of(admin, secure_stack)
    assert all(reply.error is None for reply in await sign_everywhere(signers, secure_stack, cookie))
