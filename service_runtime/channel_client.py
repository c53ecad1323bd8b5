"""The asking side of the ZeroMQ hop: one DEALER socket per peer, many requests in flight.

Requests issued in the same event-loop turn are sent as one message (a batch), which keeps the
per-request cost of the hop low under load; a request to an idle channel (nothing queued or awaited)
leaves at once, without waiting for the end of the turn.  A socket monitor notices a peer that went
away, so requests waiting on it fail at once and can be retried elsewhere instead of waiting for a
timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import Counter, deque
from typing import Any, Callable

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from contract.messages import MessageOpener, MessageSealer, RejectedMessage
from service_runtime.background import run_in_background
from service_runtime.instruments import Instruments
from service_runtime.zmq_loop import LoopSocket

log = logging.getLogger(__name__)
MAX_BATCH = 128  # items per message; a signing item is ~300 bytes
# Milliseconds between connection attempts to a peer that is not there (not yet bound, restarting).
# ZeroMQ's default, 100 ms, put up to 0.1 s between a peer's bind and its first request on every start
# (the front door waits on the session daemon, which binds last); a refused connect to a local
# Unix socket costs a few microseconds, so trying every 10 ms costs nothing that shows.
RECONNECT_INTERVAL_MS = 10
_monitor_ids = itertools.count()
# A request's deadline is met within this (uvloop's timers count whole milliseconds and may fire a
# little early: without it the channel's timer would be re-armed for a fraction of a millisecond).
DEADLINE_SLACK = 0.001


class PeerLost(Exception):
    """The peer disconnected while the request was waiting."""


class NotSent(PeerLost):
    """No connected peer took the request: it never left this process (safe to ask again)."""


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class DealerChannel:
    def __init__(
        self,
        context: zmq.asyncio.Context,
        endpoint: str,
        key: bytes,
        max_age: float,
        kind: str,
        *,
        instruments: Instruments,
        on_connection: Callable[[], None] | None = None,
    ):
        """``on_connection``: called whenever the peer connects or disconnects."""
        self.endpoint = endpoint
        self._on_connection = on_connection
        self._kind = kind
        self._instruments = instruments
        self._link = LoopSocket(context, zmq.DEALER)
        socket = self._link.socket
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a live connection, never to a dead peer
        socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_INTERVAL_MS)
        # Connection events through an asyncio PAIR socket (rare; the data path needs no asyncio socket).
        monitor_address = f"inproc://channel-monitor-{os.getpid()}-{next(_monitor_ids)}"
        socket.monitor(monitor_address, zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self._monitor = context.socket(zmq.PAIR)
        self._monitor.connect(monitor_address)
        socket.connect(endpoint)
        self._sealer = MessageSealer(key, max_age)
        self._opener = MessageOpener(key, max_age)
        self._request_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._outbox: list[dict[str, Any]] = []
        self._flush_handle: asyncio.Handle | None = None
        # Deadlines of waiting requests, (when, rid), in the order they were asked: with one timeout for
        # all (the pool's), that is the order they fall due, so one timer for the earliest serves them
        # all instead of a loop timer made and cancelled per request (~1.8 us).  A request answered in
        # time leaves its entry to be dropped when it reaches the front.
        self._deadlines: deque[tuple[float, int]] = deque()
        self._deadline_timer: asyncio.TimerHandle | None = None
        self.connected = False
        self.connections = 0  # how often the peer (re)connected: a restarted peer is a new one
        self.rejected: Counter[str] = Counter()
        self._link.start(self._on_reply)
        # The loop it was made in and serves (its socket is read there): Python 3.11's
        # get_running_loop() makes a getpid() system call on every call, once per request here.
        self._loop = asyncio.get_running_loop()
        self._tasks = [run_in_background(self._watch_connection(), "channel connection watch")]

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    async def request(
        self,
        build_item: Callable[[int], dict[str, Any]],
        timeout: float,
        meanwhile: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Send one item (built around its request id) and wait for the matching reply item;
        ``meanwhile`` is called before the wait if the item left at once (an idle channel), not if it
        was queued: there it would delay the loop turn's batch, the caller does that work after."""
        loop = self._loop
        rid = next(self._request_ids)
        future = loop.create_future()
        self._pending[rid] = future
        at_once = len(self._pending) == 1 and self._flush_handle is None
        if at_once:
            # Nothing else queued or awaited here (low load): sent now, a loop turn earlier; a batch
            # forms behind it as soon as a second request comes while this one is out.
            self._send([build_item(rid)])
        else:
            self._outbox.append(build_item(rid))
            if self._flush_handle is None:
                self._flush_handle = loop.call_soon(self._flush)
        # A deadline on the future itself, not asyncio.wait_for: that one waits on a second future the
        # reply's callback resolves, one more loop turn between the reply and its requester.
        expiry = self._expire_at(loop, loop.time() + timeout, rid, future)
        try:
            if meanwhile is not None and at_once:
                meanwhile()  # the caller's work that needs no reply, while the peer works on it
            return await future
        finally:
            if expiry is not None:
                expiry.cancel()
            self._pending.pop(rid, None)

    def _expire_at(
        self, loop: asyncio.AbstractEventLoop, when: float, rid: int, future: asyncio.Future
    ) -> asyncio.TimerHandle | None:
        """Fail the request with TimeoutError at ``when``: through the channel's queue of deadlines, or a
        timer of its own when it falls due before one asked earlier (a retry's shorter remainder)."""
        deadlines = self._deadlines
        if deadlines and when < deadlines[-1][0]:
            return loop.call_at(when, _expire, future)
        deadlines.append((when, rid))
        pending = self._pending
        while deadlines[0][1] not in pending:  # answered: nothing to expire (this request's own is pending)
            deadlines.popleft()
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(deadlines[0][0], self._expire_due)
        return None

    def _expire_due(self) -> None:
        """The channel's timer: fail the requests whose deadline came, then wait for the next one."""
        self._deadline_timer = None
        deadlines, pending = self._deadlines, self._pending
        now = self._loop.time() + DEADLINE_SLACK
        while deadlines:
            when, rid = deadlines[0]
            future = pending.get(rid)
            if future is not None and when > now:
                self._deadline_timer = self._loop.call_at(when, self._expire_due)
                return
            deadlines.popleft()
            if future is not None:
                _expire(future)

    def _flush(self) -> None:
        self._flush_handle = None
        items, self._outbox = self._outbox, []
        self._send(items)

    def _send(self, items: list[dict[str, Any]]) -> None:
        if self._link.closed:  # closed by a pool update after the requests were queued
            self._fail(items, PeerLost(self.endpoint))
            return
        # Bounded batches keep every message far below the receivers' size limit.
        for start in range(0, len(items), MAX_BATCH):
            batch = items[start : start + MAX_BATCH]
            try:
                # Never waits: with no connected peer (IMMEDIATE) the send fails now instead of waiting
                # in this process, to be delivered long after its requester gave up (expired on arrival).
                self._link.send(self._sealer.seal(self._kind, batch))
            except zmq.ZMQError:
                self._fail(batch, NotSent(self.endpoint))

    def _fail(self, items: list[dict[str, Any]], error: Exception) -> None:
        for item in items:
            future = self._pending.get(item.get("rid"))
            if future is not None and not future.done():
                future.set_exception(error)

    def _on_reply(self, frames: list[bytes]) -> None:
        try:
            envelope = self._opener.open(frames)
        except RejectedMessage as exc:
            self.rejected[exc.reason] += 1
            self._instruments.zmq_rejected.labels(self._instruments.role, exc.reason).inc()
            return
        for item in envelope.items:
            future = self._pending.get(item.get("rid"))
            if future is not None and not future.done():
                future.set_result(item)

    async def _watch_connection(self) -> None:
        while True:
            event = parse_monitor_message(await self._monitor.recv_multipart())
            if event["event"] == zmq.EVENT_CONNECTED:
                self.connected = True
                self.connections += 1
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self.connected = False
                self._fail_pending()
            if self._on_connection is not None:
                self._on_connection()

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PeerLost(self.endpoint))

    def close(self) -> None:
        if self._link.closed:  # closed already (a failed start closes every client it made, then the context)
            return
        if self._flush_handle is not None:  # a send after close would only raise
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._deadline_timer is not None:  # (every waiting request fails below)
            self._deadline_timer.cancel()
            self._deadline_timer = None
        for task in self._tasks:
            task.cancel()
        self._fail_pending()
        self._link.socket.disable_monitor()
        self._monitor.close(linger=0)
        self._link.close()
