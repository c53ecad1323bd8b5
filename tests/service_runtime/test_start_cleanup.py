"""What a failed start closes (service_runtime.start_cleanup): with real ZeroMQ sockets and a real
collection, no mock."""

from __future__ import annotations

import asyncio
import logging

import zmq
import zmq.asyncio

from service_runtime.start_cleanup import StartResources


async def test_the_context_and_its_sockets_are_closed_the_last_made_first():
    resources = StartResources()
    order = []
    context = resources.zmq_context(zmq.asyncio.Context())
    resources.add("first", lambda: order.append("first"))
    socket = context.socket(zmq.DEALER)
    socket.connect("ipc:///nonexistent/peer.sock")  # a peer that never comes: nothing may wait for it

    async def second() -> None:
        order.append("second")

    resources.add("second", second)
    await resources.close_all()
    assert order == ["second", "first"]
    assert socket.closed and context.closed


async def test_a_close_that_fails_or_lingers_is_logged_and_the_others_still_run(caplog, monkeypatch):
    monkeypatch.setattr("service_runtime.start_cleanup.CLOSE_WITHIN", 0.05)
    resources = StartResources()
    closed = []
    resources.add("kept", lambda: closed.append("kept"))
    resources.add("stuck", lambda: asyncio.Event().wait())
    resources.add("broken", lambda: 1 / 0)
    with caplog.at_level(logging.WARNING):
        await resources.close_all()
    assert closed == ["kept"]
    assert [(r.what, r.error) for r in caplog.records] == [("broken", "ZeroDivisionError"), ("stuck", "TimeoutError")]
    await resources.close_all()  # once only
    assert closed == ["kept"]
