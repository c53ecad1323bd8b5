"""The answering side of the ZeroMQ hop: a ROUTER socket that checks every message and replies.

Used by the signers and the session daemon.  Many requests may be in flight: a message whose answer is
at hand is answered at once, one that needs I/O in its own task; queued messages are drained without
yielding between them (``zmq_loop.LoopSocket``).  Work the requester need not wait for (counting,
logging) goes in the ``answered`` hook, called once the replies are sent.  Rejected messages are
counted by reason and never answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Awaitable, Callable

import zmq
import zmq.asyncio

from contract.messages import Envelope, MessageOpener, MessageSealer, RejectedMessage
from service_runtime.instruments import Instruments
from service_runtime.zmq_loop import LoopSocket, receive_routed

log = logging.getLogger(__name__)

# Given a checked message, returns the reply items (same kind) to send back: directly when they
# are at hand (the steady-state fast path, no task), or as an awaitable when I/O is needed.
Handler = Callable[[Envelope], "list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]"]
# Called with a message and its reply items once they are sent: work the requester need not wait for.
Answered = Callable[[Envelope, "list[dict[str, Any]]"], None]

# Rejections an honest peer causes (a message that waited out its validity); the rest are forgeries.
ORDINARY_REJECTIONS = frozenset({"expired"})


class RouterServer:
    def __init__(
        self,
        context: zmq.asyncio.Context,
        endpoint: str,
        key: bytes,
        max_age: float,
        handler: Handler,
        *,
        instruments: Instruments,
        answered: Answered | None = None,
    ):
        self._link = LoopSocket(context, zmq.ROUTER)
        self._socket = self._link.socket
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self._endpoint = endpoint
        self._opener = MessageOpener(key, max_age)
        self._sealer = MessageSealer(key, max_age)
        self._handler = handler
        self._answered = answered
        self._instruments = instruments
        self._tasks: set[asyncio.Task] = set()
        self.rejected: Counter[str] = Counter()
        self.handled = 0

    @property
    def in_flight(self) -> int:
        """Messages being answered (their handler awaits I/O)."""
        return len(self._tasks)

    def bind(self) -> None:
        self._socket.bind(self._endpoint)

    async def serve(self) -> None:
        """Answer every message as it arrives (queued ones are drained in one loop turn) until cancelled."""
        self._link.start(self._dispatch, receive_routed)
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self._link.stop()

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._link.close()

    def _dispatch(self, frames: list[bytes]) -> None:
        identity, payload = frames[0], frames[1:]
        try:
            envelope = self._opener.open(payload)
        except RejectedMessage as exc:
            self._reject(exc.reason)
            return
        try:
            replies = self._handler(envelope)
        except Exception:  # one bad message must not end the receive loop, and with it the process's use
            log.exception("handler failed", extra={"event": "handler_error", "kind": envelope.kind})
            return
        if isinstance(replies, list):
            self._send(identity, envelope, replies)
            return
        task = asyncio.create_task(self._answer(identity, envelope, replies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reject(self, reason: str) -> None:
        self.rejected[reason] += 1
        self._instruments.zmq_rejected.labels(self._instruments.role, reason).inc()
        count = self.rejected[reason]
        if count & (count - 1):  # log at 1, 2, 4, 8, ... per reason, so a flood cannot flood the log
            return
        if reason in ORDINARY_REJECTIONS:
            # Correctly sealed but too old: queued while this process was away, not an attack.
            log.warning(
                "dropped an expired ZeroMQ message",
                extra={"event": "stale_message", "reason": reason, "rejected_total": count},
            )
            return
        log.warning(
            "dropped an unacceptable ZeroMQ message",
            extra={"event": "security_violation", "reason": reason, "rejected_total": count},
        )

    async def _answer(self, identity: bytes, envelope: Envelope, pending: Awaitable[list[dict[str, Any]]]) -> None:
        try:
            replies = await pending
        except Exception:
            log.exception("handler failed", extra={"event": "handler_error", "kind": envelope.kind})
            return
        self._send(identity, envelope, replies)

    def _send(self, identity: bytes, envelope: Envelope, replies: list[dict[str, Any]]) -> None:
        self.handled += len(replies)
        try:
            (frame,) = self._sealer.seal(envelope.kind, replies)
            self._link.send_routed(identity, frame)
        except zmq.ZMQError:  # ROUTER drops for a vanished peer; a closed socket has nobody to answer
            pass
        if self._answered is not None:
            try:
                self._answered(envelope, replies)
            except Exception:  # (as a handler's failure: the receive loop goes on)
                log.exception("answered hook failed", extra={"event": "handler_error", "kind": envelope.kind})
