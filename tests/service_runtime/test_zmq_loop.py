"""The hop's data socket read from the event loop, on real ipc sockets: ZeroMQ's edge-triggered FD
must never leave an arrived message unread."""

from __future__ import annotations

import logging
import threading

import pytest
import zmq
import zmq.asyncio

from service_runtime.zmq_loop import DRAIN_BATCH, LoopSocket, receive_frames, receive_routed, send_frames
from tests.support.polling import eventually, eventually_sync


async def pair(tmp_path):
    context = zmq.asyncio.Context()
    link = LoopSocket(context, zmq.DEALER)
    link.socket.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path / 'peer.sock'}"
    peer = zmq.Context.shadow(context.underlying).socket(zmq.ROUTER)
    peer.setsockopt(zmq.LINGER, 0)
    peer.bind(endpoint)
    link.socket.connect(endpoint)
    return context, link, peer


async def routed_pair(tmp_path):
    """A ROUTER link (a signer's side, read with ``receive_routed``) and a plain DEALER peer."""
    context = zmq.asyncio.Context()
    link = LoopSocket(context, zmq.ROUTER)
    link.socket.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    link.socket.bind(endpoint)
    peer = zmq.Context.shadow(context.underlying).socket(zmq.DEALER)
    peer.setsockopt(zmq.LINGER, 0)
    peer.connect(endpoint)
    return context, link, peer


def peer_identity(peer) -> bytes:
    """The link's identity at the peer, from a hello it sent."""
    eventually_sync(lambda: peer.poll(0), timeout=5, interval=0.01, what="hello at the peer")
    identity, _hello = peer.recv_multipart()
    return identity


async def test_messages_queued_before_start_and_after_are_all_delivered(tmp_path):
    context, link, peer = await pair(tmp_path)
    received: list[bytes] = []
    try:
        link.socket.send(b"hello")
        identity = peer_identity(peer)
        peer.send_multipart([identity, b"early"])
        eventually_sync(lambda: link.socket.poll(0), timeout=5, interval=0.01, what="early message queued")
        link.start(lambda frames: received.append(frames[0]))
        for n in range(DRAIN_BATCH + 10):  # more than one turn's batch
            peer.send_multipart([identity, b"m%d" % n])
        await eventually(lambda: len(received) == DRAIN_BATCH + 11, timeout=5, interval=0.01)
        assert received == [b"early"] + [b"m%d" % n for n in range(DRAIN_BATCH + 10)]
    finally:
        link.close(), peer.close(), context.term()


async def test_an_arrival_whose_signal_a_send_took_is_still_read(tmp_path):
    """The FD signals a change of EVENTS once; an operation on the socket (here a look at EVENTS, as a
    send may do inside libzmq) takes that signal.  The drain after every send finds the message."""
    context, link, peer = await pair(tmp_path)
    received: list[bytes] = []
    try:
        link.start(lambda frames: received.append(frames[0]))
        link.send([b"hello"])
        identity = peer_identity(peer)
        await eventually(lambda: not link._draining, timeout=5, interval=0.01)
        peer.send_multipart([identity, b"answer"])
        # Wait without yielding to the loop, looking at EVENTS: the FD's signal is consumed here.
        eventually_sync(lambda: link.socket.get(zmq.EVENTS) & zmq.POLLIN, timeout=5, interval=0.01)
        link.send([b"next"])
        await eventually(lambda: received == [b"answer"], timeout=2, interval=0.01, what="the answer read")
    finally:
        link.close(), peer.close(), context.term()


async def test_a_send_with_nothing_arrived_leaves_no_drain_to_the_next_loop_turn(tmp_path):
    """At low load every send found nothing: a drain scheduled per send cost a loop iteration each."""
    context, link, peer = await pair(tmp_path)
    received: list[bytes] = []
    try:
        link.start(lambda frames: received.append(frames[0]))
        await eventually(lambda: not link._draining, timeout=5, interval=0.01)
        link.send([b"hello"])
        assert not link._draining  # nothing queued, nothing scheduled
        identity = peer_identity(peer)
        peer.send_multipart([identity, b"answer"])
        await eventually(lambda: received == [b"answer"], timeout=5, interval=0.01, what="the answer read")
    finally:
        link.close(), peer.close(), context.term()


async def test_a_failing_handler_does_not_stop_the_drain(tmp_path):
    context, link, peer = await pair(tmp_path)
    received: list[bytes] = []

    def handle(frames):
        if frames[0] == b"bad":
            raise RuntimeError("a handler bug")
        received.append(frames[0])

    try:
        link.start(handle)
        link.send([b"hello"])
        identity = peer_identity(peer)
        for body in (b"bad", b"good"):
            peer.send_multipart([identity, body])
        await eventually(lambda: received == [b"good"], timeout=5, interval=0.01)
    finally:
        link.close(), peer.close(), context.term()


async def test_the_context_closes_the_socket_when_destroyed(tmp_path):
    """As with pyzmq's own sockets, destroy() closes what is still open, so its term() returns."""
    context, link, peer = await pair(tmp_path)
    link.start(lambda frames: None)
    peer.close()
    ended = threading.Thread(target=context.destroy, kwargs={"linger": 0}, daemon=True)
    ended.start()
    ended.join(timeout=5)
    assert not ended.is_alive() and link.closed
    await eventually(lambda: link._loop is None, timeout=2, interval=0.01, what="the reader removed")


def test_frames_travel_as_one_message_and_a_bad_frame_sends_nothing():
    context = zmq.Context()
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    try:
        sender.bind("inproc://frames")
        receiver.connect("inproc://frames")
        send_frames(sender, [b"id", b"", b"body"])
        send_frames(sender, [b"only"])
        send_frames(sender, [bytearray(b"a"), memoryview(b"b")])  # other buffers: pyzmq's own conversion
        with pytest.raises(TypeError):
            send_frames(sender, [b"first", "not a buffer"])
        send_frames(sender, [b"after"])
        eventually_sync(lambda: receiver.poll(0), timeout=5, interval=0.01, what="first message")
        assert receive_frames(receiver) == [b"id", b"", b"body"]
        assert receive_frames(receiver) == [b"only"]
        assert receive_frames(receiver) == [b"a", b"b"]
        assert receive_frames(receiver) == [b"after"]  # nothing of the refused message arrived
        with pytest.raises(zmq.Again):
            receive_frames(receiver)
    finally:
        sender.close(linger=0)
        receiver.close(linger=0)
        context.term()


async def test_a_drain_with_nothing_queued_ends_and_a_later_arrival_is_read(tmp_path, caplog):
    """A drain receives before it looks at EVENTS: when nothing is queued the receive finds nothing
    (``zmq.Again``), which ends the drain quietly and leaves the socket watched."""
    context, link, peer = await pair(tmp_path)
    received: list[bytes] = []
    try:
        link.start(lambda frames: received.append(frames[0]))
        await eventually(lambda: not link._draining, timeout=5, interval=0.01)
        for _ in range(3):
            link._schedule_drain()  # woken with nothing to read
            await eventually(lambda: not link._draining, timeout=5, interval=0.01)
        link.send([b"hello"])
        identity = peer_identity(peer)
        peer.send_multipart([identity, b"answer"])
        await eventually(lambda: received == [b"answer"], timeout=5, interval=0.01, what="the answer read")
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    finally:
        link.close(), peer.close(), context.term()


async def test_a_routers_messages_are_read_whole_with_the_senders_identity_first(tmp_path):
    """The identity is read without a frame object; a message of several frames stays one message, and
    the next one is framed as it was sent."""
    context, link, peer = await routed_pair(tmp_path)
    received: list[list[bytes]] = []
    try:
        link.start(received.append, receive_routed)
        for frames in ([b"one"], [b"a", b"", b"c"], [b"two"]):
            peer.send_multipart(frames)
        await eventually(lambda: len(received) == 3, timeout=5, interval=0.01, what="three messages read")
        identity = received[0][0]
        assert received == [[identity, b"one"], [identity, b"a", b"", b"c"], [identity, b"two"]]
    finally:
        link.close(), peer.close(), context.term()


async def test_a_routed_reply_outside_a_drain_still_reads_an_arrival_whose_signal_it_took(tmp_path):
    """``send_routed`` (a reply sent by a task, after its Redis read) looks at EVENTS as ``send`` does;
    inside a drain it leaves the look to the drain."""
    context, link, peer = await routed_pair(tmp_path)
    received: list[list[bytes]] = []
    try:
        link.start(received.append, receive_routed)
        peer.send(b"hello")
        await eventually(lambda: received and not link._draining, timeout=5, interval=0.01, what="hello read")
        identity = received[0][0]
        peer.send(b"second")
        # Wait without yielding to the loop, looking at EVENTS: the FD's signal is consumed here.
        eventually_sync(lambda: link.socket.get(zmq.EVENTS) & zmq.POLLIN, timeout=5, interval=0.01)
        link.send_routed(identity, b"reply")
        await eventually(lambda: len(received) == 2, timeout=2, interval=0.01, what="the second message read")
        assert received[1] == [identity, b"second"]
        eventually_sync(lambda: peer.poll(0), timeout=5, interval=0.01, what="the reply at the peer")
        assert peer.recv_multipart() == [b"reply"]
    finally:
        link.close(), peer.close(), context.term()
