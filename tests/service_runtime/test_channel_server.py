"""The answering side of the ZeroMQ hop on a real ipc socket: what only the router itself decides (a
handler's failure, how a rejection is logged)."""

from __future__ import annotations

import asyncio

import zmq
import zmq.asyncio

from contract.messages import MessageOpener, MessageSealer
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from tests.support.polling import eventually

KEY = bytes(range(32))


def handler(envelope):
    if any(item.get("boom") for item in envelope.items):
        raise RuntimeError("a handler bug")
    return [{"rid": item.get("rid"), "echo": True} for item in envelope.items]


async def test_a_handler_that_raises_leaves_the_router_serving(tmp_path):
    """(What every service on this router promises about bad input: test_service_conformance.py.)"""
    context = zmq.asyncio.Context()
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    server = RouterServer(context, endpoint, KEY, 5.0, handler, instruments=Instruments())
    server.bind()
    serving = asyncio.create_task(server.serve())
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    sealer, opener = MessageSealer(KEY, 5.0), MessageOpener(KEY, 5.0)
    try:
        await dealer.send_multipart(sealer.seal("sign", [{"rid": 1, "boom": True}]))
        await dealer.send_multipart(sealer.seal("sign", [{"rid": 2}]))
        reply = opener.open(await asyncio.wait_for(dealer.recv_multipart(), 5))
        assert reply.items == [{"rid": 2, "echo": True}]  # the only answer: nothing for the failed one
        assert not serving.done()
    finally:
        serving.cancel()
        dealer.close()
        server.close()
        context.term()


async def test_an_expired_message_is_an_ordinary_warning_and_a_forgery_a_security_violation(tmp_path, caplog):
    """A message that waited out its validity (its sender was away) is no attack: no false alarm."""
    context = zmq.asyncio.Context()
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    server = RouterServer(context, endpoint, KEY, 5.0, handler, instruments=Instruments())
    server.bind()
    serving = asyncio.create_task(server.serve())
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    try:
        caplog.set_level("INFO", logger="service_runtime.channel_server")
        await dealer.send_multipart(MessageSealer(KEY, -1.0).seal("sign", [{"rid": 1}]))  # expired on arrival
        await dealer.send_multipart(MessageSealer(bytes(32), 5.0).seal("sign", [{"rid": 2}]))  # wrong key
        await eventually(lambda: server.rejected.total() >= 2, 5, interval=0.01, what="both messages rejected")
        events = {record.reason: record.event for record in caplog.records if hasattr(record, "reason")}
        assert events == {"expired": "stale_message", "bad_mac": "security_violation"}
    finally:
        serving.cancel()
        server.close()
        dealer.close()
        context.term()


async def test_the_answered_hook_runs_once_the_replies_have_left(tmp_path):
    """Work the requester need not wait for (the signer's counting and logging) comes after the send:
    the reply is at the requester while the hook still runs."""
    context = zmq.asyncio.Context()
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    dealer = zmq.Context.shadow(context.underlying).socket(zmq.DEALER)  # a plain socket: polled inside the hook
    dealer.setsockopt(zmq.LINGER, 0)
    seen: list[tuple[list, bool]] = []

    def answered(envelope, replies):
        seen.append((replies, dealer.poll(2000) != 0))

    server = RouterServer(context, endpoint, KEY, 5.0, handler, instruments=Instruments(), answered=answered)
    server.bind()
    serving = asyncio.create_task(server.serve())
    dealer.connect(endpoint)
    try:
        dealer.send_multipart(MessageSealer(KEY, 5.0).seal("sign", [{"rid": 1}]))
        await eventually(lambda: seen, timeout=5, interval=0.01, what="the hook called")
        assert seen == [([{"rid": 1, "echo": True}], True)]
        assert MessageOpener(KEY, 5.0).open(dealer.recv_multipart()).items == [{"rid": 1, "echo": True}]
    finally:
        serving.cancel()
        dealer.close()
        server.close()
        context.term()
