"""The ZeroMQ hop with real sockets: batching, many in flight, a peer that vanishes, junk replies."""

from __future__ import annotations

import asyncio
import time

import pytest
import zmq
import zmq.asyncio

from contract.messages import MessageOpener, MessageSealer
from service_runtime.channel_client import MAX_BATCH, DealerChannel, NotSent, PeerLost
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from tests.support.polling import eventually

KEY = bytes(range(32))


@pytest.fixture
def endpoint(tmp_path):
    return f"ipc://{tmp_path / 'peer.sock'}"


@pytest.fixture
async def context():
    ctx = zmq.asyncio.Context()
    yield ctx
    ctx.destroy(linger=0)


async def start_echo_server(context, endpoint, handler=None):
    server = RouterServer(
        context,
        endpoint,
        KEY,
        10,
        handler or (lambda env: [{"rid": i["rid"], "n": i["n"]} for i in env.items]),
        instruments=Instruments(),
    )
    server.bind()
    return server, asyncio.create_task(server.serve())


async def wait_connected(channel, timeout=2.0):
    await eventually(lambda: channel.connected, timeout, interval=0.01, what="the channel connected")


async def test_many_requests_in_flight_are_batched_and_all_answered(context, endpoint):
    server, serving = await start_echo_server(context, endpoint)
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    count = MAX_BATCH * 10 + 7
    # ~1 KiB items: one unbounded batch would exceed the receivers' 1 MiB message limit.
    padding = "p" * 1024
    replies = await asyncio.gather(
        *(channel.request(lambda rid, n=n: {"rid": rid, "n": n, "pad": padding}, 5.0) for n in range(count))
    )
    assert [reply["n"] for reply in replies] == list(range(count))
    assert server.handled == count and not server.rejected
    channel.close(), serving.cancel(), server.close()


async def test_a_vanished_peer_fails_waiting_requests_at_once(context, endpoint):
    never = asyncio.Event()

    async def stall(envelope):
        await never.wait()
        return []

    server, serving = await start_echo_server(context, endpoint, stall)
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    pending = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid}, 30.0))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    serving.cancel()
    server.close()  # the peer's socket goes away: the monitor sees the disconnect
    with pytest.raises(PeerLost):
        await pending
    assert time.monotonic() - started < 2.0
    channel.close()


async def test_replies_with_a_wrong_key_are_ignored(context, endpoint):
    router = context.socket(zmq.ROUTER)
    router.bind(endpoint)
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    pending = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid}, 1.0))
    identity, *_ = await router.recv_multipart()
    forged = MessageSealer(b"x" * 32, 10).seal("sign", [{"rid": 1, "forged": True}])
    await router.send_multipart([identity, *forged])
    await router.send_multipart([identity, b"garbage"])
    with pytest.raises(asyncio.TimeoutError):
        await pending
    assert channel.rejected["bad_mac"] == 1 and channel.rejected["frame_count"] == 1
    channel.close()
    router.close(linger=0)


async def test_with_no_peer_a_request_fails_at_once_and_is_never_delivered_late(context, endpoint):
    """Nothing is queued for a peer that is away: its requester gets NotSent now, and the peer,
    once back, never receives the stale request (which it would reject as expired)."""
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    started = time.monotonic()
    with pytest.raises(NotSent):
        await channel.request(lambda rid: {"rid": rid, "n": 1}, timeout=5)
    assert time.monotonic() - started < 0.5
    server, serving = await start_echo_server(context, endpoint)
    try:
        await wait_connected(channel)
        assert await channel.request(lambda rid: {"rid": rid, "n": 2}, timeout=5) == {"rid": 2, "n": 2}
        assert server.handled == 1 and not server.rejected
    finally:
        channel.close()
        serving.cancel()
        server.close()


async def test_closing_with_requests_queued_fails_them_without_a_socket_error(context, endpoint, caplog):
    server, serving = await start_echo_server(context, endpoint)
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    try:
        out = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid, "n": 1}, timeout=5))
        await asyncio.sleep(0)  # sent at once: the channel was idle
        queued = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid, "n": 2}, timeout=5))
        await asyncio.sleep(0)  # queued behind it, the flush scheduled but not run
        channel.close()  # as a pool update does
        for request in (out, queued):
            with pytest.raises(PeerLost):
                await request
        await asyncio.sleep(0.05)
        assert not [r for r in caplog.records if r.exc_info or "ZMQError" in r.getMessage()]
    finally:
        serving.cancel()
        server.close()


async def test_a_peer_that_binds_late_is_tried_every_10_ms(context, endpoint):
    # On a start the front door connects long before the session daemon binds; ZeroMQ's 100 ms
    # default between attempts put up to 0.1 s between the daemon's bind and the first login.
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    assert channel._link.socket.getsockopt(zmq.RECONNECT_IVL) <= 10
    assert channel._link.socket.getsockopt(zmq.RECONNECT_IVL_MAX) == 0  # no growing back-off
    server, serving = await start_echo_server(context, endpoint)
    await wait_connected(channel)
    reply = await channel.request(lambda rid: {"rid": rid, "n": 7}, 5.0)
    assert reply["n"] == 7
    channel.close(), serving.cancel(), server.close()


@pytest.fixture
def plain_peer(endpoint):
    """A ROUTER of a plain context, read without the event loop (so while the loop is blocked)."""
    peer = zmq.Context()
    router = peer.socket(zmq.ROUTER)
    router.bind(endpoint)
    yield router
    router.close(linger=0)
    peer.term()


def items_of(router) -> list[int]:
    _identity, *frames = router.recv_multipart(zmq.NOBLOCK)
    return [item["n"] for item in MessageOpener(KEY, 10).open(frames).items]


async def test_a_request_to_an_idle_channel_is_out_before_its_requester_waits(context, endpoint, plain_peer):
    """After the requester's first step, the loop blocked: only a message sent in that step can reach
    the peer (one queued for the end of the loop turn cannot)."""
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    asked = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid, "n": 1}, 5.0))
    await asyncio.sleep(0)  # the requester's step ran: its item is sent, or queued with a flush behind us
    arrived = plain_peer.poll(2000)  # blocks the loop: a queued flush cannot run meanwhile
    assert arrived and items_of(plain_peer) == [1]
    asked.cancel()
    channel.close()


async def test_meanwhile_runs_once_the_request_is_out_before_the_wait(context, endpoint, plain_peer):
    """``meanwhile`` runs in the requester's step, the loop blocked: the message is at the peer then."""
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    seen_at_peer: list[bool] = []
    asked = asyncio.ensure_future(
        channel.request(lambda rid: {"rid": rid, "n": 1}, 5.0, lambda: seen_at_peer.append(bool(plain_peer.poll(2000))))
    )
    await eventually(lambda: seen_at_peer, timeout=5, what="meanwhile called")
    assert seen_at_peer == [True] and items_of(plain_peer) == [1]
    asked.cancel()
    channel.close()


async def test_meanwhile_is_not_called_for_a_request_queued_behind_one_that_is_out(context, endpoint, plain_peer):
    """Queued (under load), the caller's work would only delay the loop turn's batch: it is left to
    the caller, after the reply."""
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    called: list[int] = []
    first = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid, "n": 1}, 5.0, lambda: called.append(1)))
    await eventually(lambda: plain_peer.poll(0), timeout=5, what="the first request at the peer")
    assert items_of(plain_peer) == [1] and called == [1]  # sent at once: called
    behind = [
        asyncio.ensure_future(channel.request(lambda rid, n=n: {"rid": rid, "n": n}, 5.0, lambda n=n: called.append(n)))
        for n in (2, 3)
    ]
    await eventually(lambda: plain_peer.poll(0), timeout=5, what="the batch at the peer")
    assert items_of(plain_peer) == [2, 3] and called == [1]
    for request in (first, *behind):
        request.cancel()
    channel.close()


async def test_requests_behind_one_that_is_out_are_batched_per_loop_turn(context, endpoint, plain_peer):
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    first = asyncio.ensure_future(channel.request(lambda rid: {"rid": rid, "n": 1}, 5.0))
    await eventually(lambda: plain_peer.poll(0), timeout=5, what="the first request at the peer")
    assert items_of(plain_peer) == [1]  # alone: the channel was idle
    behind = [asyncio.ensure_future(channel.request(lambda rid, n=n: {"rid": rid, "n": n}, 5.0)) for n in (2, 3, 4)]
    await eventually(lambda: plain_peer.poll(0), timeout=5, what="the batch at the peer")
    assert items_of(plain_peer) == [2, 3, 4]  # one message for the three of one turn
    assert not plain_peer.poll(100)
    for request in (first, *behind):
        request.cancel()
    channel.close()


async def _times_out_after(channel: DealerChannel, timeout: float) -> float:
    """Seconds until a request to a silent peer failed with TimeoutError."""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await channel.request(lambda rid: {"rid": rid, "n": 0}, timeout)
    return time.monotonic() - started


async def test_each_request_times_out_at_its_own_deadline(context, endpoint, plain_peer):
    """One timer serves the channel's deadlines: each request still fails when its own is up, a later
    one after the timer fired for an earlier one, and a shorter one asked after longer ones before them."""
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    first = asyncio.ensure_future(_times_out_after(channel, 0.6))
    await asyncio.sleep(0.1)
    later = asyncio.ensure_future(_times_out_after(channel, 0.6))
    shorter = asyncio.ensure_future(_times_out_after(channel, 0.05))
    took = await asyncio.wait_for(asyncio.gather(first, later, shorter), 5)
    for seconds, timeout in zip(took, (0.6, 0.6, 0.05)):
        assert timeout - 0.01 <= seconds < timeout + 0.25, (took, timeout)
    assert not channel.outstanding
    channel.close()


async def test_answered_requests_leave_no_deadline_behind(context, endpoint):
    server, serving = await start_echo_server(context, endpoint)
    channel = DealerChannel(context, endpoint, KEY, 10, "sign", instruments=Instruments())
    await wait_connected(channel)
    for n in range(300):
        assert (await channel.request(lambda rid, n=n: {"rid": rid, "n": n}, 0.2))["n"] == n
    assert len(channel._deadlines) <= 1  # dropped as new ones come: held no longer than they are due
    # The last deadline is due 0.2 s after the last answer: then the timer drops it, and is not re-armed.
    await eventually(lambda: not channel._deadlines and channel._deadline_timer is None, 5, interval=0.05)
    channel.close(), serving.cancel(), server.close()
