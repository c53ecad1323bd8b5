"""One kept-alive HTTP/1.1 connection to an upstream, on an asyncio protocol: the lean client's wire.

The answer is parsed by llhttp (``httptools``), strictly: a head with both ``Content-Length`` and
``Transfer-Encoding``, bad chunking, a status line or header past aiohttp's default sizes, more headers
than aiohttp allows, a ``101`` we never asked for, or any byte while no request is in flight (before
it was written, or after its answer: a pooled connection's stray data) ends the connection.  A
connection is handed back to the pool only after a complete answer that lets it live (llhttp's
keep-alive verdict), never after an anomaly, a cut body, a cancelled reader or a ``HEAD`` (llhttp as
wrapped by httptools cannot be told that a ``HEAD`` answer's ``Content-Length`` announces no body).

1xx answers are skipped as aiohttp's client skips them; 204, 304 and ``HEAD`` answers have no body.
The body is pushed to the reader as it arrives; past ``HIGH_WATER`` unread bytes the socket stops being
read until the reader catches up (the relay writes to a slow browser: memory stays bounded).
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools
from multidict import CIMultiDict

# aiohttp's client defaults (ClientSession max_line_size, max_field_size, max_headers).
MAX_LINE = 8190
MAX_FIELD = 8190
MAX_HEADERS = 128
# A head is refused past this many bytes even before llhttp has a whole field to report.
MAX_HEAD = MAX_LINE + MAX_HEADERS * (2 * MAX_FIELD + 4)
HIGH_WATER = 256 * 1024  # unread body bytes that pause reading from the upstream
LOW_WATER = 64 * 1024  # ... and that resume it


class UpstreamFault(Exception):
    """The upstream connection failed; ``answered`` tells whether any byte of an answer had arrived."""

    def __init__(self, message: str, *, answered: bool):
        super().__init__(message)
        self.answered = answered


class MalformedAnswer(UpstreamFault):
    """The bytes are not an acceptable HTTP/1.1 answer: the connection is closed, never reused."""


class ConnectionLost(UpstreamFault):
    """The upstream closed or reset the connection before the end of the answer."""


class AnswerLate(UpstreamFault):
    """The response deadline passed before the answer's head (the connection is closed, never reused)."""


class UpstreamConnection(asyncio.Protocol):
    """A connection with at most one request in flight (``begin`` -> ``head`` -> ``chunks``)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.idle_since = 0.0  # the loop's time when it went back to the pool
        self.status, self.reason, self.headers = 0, "", CIMultiDict()  # the answer's head, once it came
        self._parser = httptools.HttpResponseParser(self)
        self._in_flight = False
        self._head_only = False  # HEAD: the answer ends with its head
        self._head_bytes = 0
        self._reset_head()
        self._head: asyncio.Future | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._complete = False
        self._reusable = False
        self._fault: UpstreamFault | None = None
        self._wakeup: asyncio.Future | None = None
        # The head's deadline (the loop's time; None: no head awaited) and a timer armed at or before
        # it: a later request's deadline leaves the timer as it is, and when it fires early it is armed
        # again for the deadline of then (one timer per response_timeout, not one per request).  The
        # signer channel (channel_client.DealerChannel) has the same idea for many requests in flight: a
        # queue of deadlines; one in flight here needs three fields, not a shared queue's calls per request.
        self._head_deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._loop = asyncio.get_running_loop()  # once per connection, not per request (a getpid call)

    def data_received(self, data: bytes) -> None:
        if not self._in_flight or self._complete:
            self._fail(MalformedAnswer("bytes from the upstream while no request was in flight", answered=True))
            return
        if self._head is not None and not self._head.done():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._fail(MalformedAnswer("the answer's head is too large", answered=True))
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self._fault is None:  # a callback's refusal is the better reason
                self._fail(MalformedAnswer(f"unparsable answer: {exc}", answered=True))
            else:
                self._close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self._in_flight or self._complete or self._fault is not None:
            return
        if self._head is not None and self._head.done() and self._ends_at_close():
            self._finish(reusable=False)  # a body without length or chunking ends when the peer closes
            return
        answered = self._head_bytes > 0
        self._fail(ConnectionLost(f"the upstream closed the connection ({exc or 'EOF'})", answered=answered))

    def pause_writing(self) -> None:  # one in-memory request at a time: nothing to pause
        pass

    def resume_writing(self) -> None:
        pass

    # --- the request ------------------------------------------------------------------------------------

    def begin(self, wire: bytes, *, head_only: bool, deadline: float | None = None) -> None:
        """Write a request; its answer is read with ``head`` and ``chunks``.  ``deadline`` (the loop's
        time): ``head`` raises AnswerLate if the head has not arrived by then (a timer of the loop, not
        a timeout around the waiting task: a third of its cost on the proxy's path)."""
        self._in_flight, self._complete, self._reusable, self._head_only = True, False, False, head_only
        self._head_bytes, self._fault = 0, None
        loop = self._loop or asyncio.get_running_loop()
        self._head = loop.create_future()
        self._head_deadline = deadline
        if deadline is not None and (self._timer is None or self._timer_at > deadline):
            self._arm(loop, deadline)
        self.transport.write(wire)

    def head(self) -> asyncio.Future:
        """To await: until the head of the final (non-1xx) answer arrived, then ``status``, ``reason``,
        ``headers`` are set.  (The future itself, not a coroutine around it: one frame less.)"""
        return self._head

    @property
    def length(self) -> int | None:
        """The answer's ``Content-Length`` (as aiohttp's ``content_length``: a HEAD's is the announced one)."""
        value = self.headers.get("Content-Length")
        return None if value is None else int(value)  # llhttp accepted it: digits only

    async def chunks(self):
        """The body as it arrives; raises the connection's fault if it breaks off."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered <= LOW_WATER and not self.closed:
                    self._paused = False
                    self.transport.resume_reading()
                yield chunk
            if self._complete:  # a fault after a complete answer (stray bytes) only ends the connection
                return
            if self._fault is not None:
                raise self._fault
            self._wakeup = (self._loop or asyncio.get_running_loop()).create_future()
            await self._wakeup

    async def read(self) -> bytes:
        body = self.arrived_body()
        return body if body is not None else b"".join([chunk async for chunk in self.chunks()])

    def arrived_body(self) -> bytes | None:
        """The whole body when it is all there (most small answers arrive with their head), taken as
        ``read`` takes it; None when ``read`` must wait for it."""
        if self._complete and not self._paused:  # (as chunks())
            body = b"".join(self._chunks)
            self._chunks.clear()
            self._buffered = 0
            return body
        return None

    @property
    def reusable(self) -> bool:
        """Whether this connection may carry another request now: its answer was read to the end."""
        return self._reusable and not self.closed and not self._chunks

    def idle(self) -> None:
        """Handed back to the pool: any byte from now until the next ``begin`` ends the connection."""
        self._in_flight = False

    def close(self) -> None:
        self._close()

    # --- httptools callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise self._refuse("bytes after the end of the answer")
        self._reset_head()

    def on_status(self, status: bytes) -> None:
        self._reason.extend(status)
        if len(self._reason) > MAX_LINE:
            raise self._refuse("the status line is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) > MAX_FIELD or len(value) > MAX_FIELD:
            raise self._refuse("a header field is too long")
        if len(self._headers) >= MAX_HEADERS:
            raise self._refuse("too many headers")
        self._headers.add(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status == 101 or self._parser.should_upgrade():
            raise self._refuse("an upgrade nobody asked for")
        if 100 <= status < 200:
            return  # skipped: its message completes and the real answer follows
        if "Content-Length" in self._headers and "Transfer-Encoding" in self._headers:
            raise self._refuse("both Content-Length and Transfer-Encoding")  # llhttp refuses it too
        self._status = status
        self.status, self.reason, self.headers = status, self._reason.decode("latin-1"), self._headers
        self._head.set_result(None)
        self._stop_deadline()
        if self._head_only:
            self._finish(reusable=False)  # llhttp would wait for the announced body: never reuse it

    def on_body(self, body: bytes) -> None:
        if self._complete or self._fault is not None:
            raise self._refuse("a body where none belongs")
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return
        if not self._complete:
            self._finish(reusable=self._parser.should_keep_alive())

    # --- inside ---------------------------------------------------------------------------------------

    def _reset_head(self) -> None:
        self._reason = bytearray()
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._status = 0

    def _no_body(self) -> bool:
        return self._head_only or self._status in (204, 304)

    def _ends_at_close(self) -> bool:
        return (
            not self._no_body() and "Content-Length" not in self._headers and "Transfer-Encoding" not in self._headers
        )

    def _refuse(self, why: str) -> MalformedAnswer:
        fault = MalformedAnswer(why, answered=True)
        self._fail(fault)
        return fault

    def _finish(self, *, reusable: bool) -> None:
        self._complete, self._reusable = True, reusable
        self._wake()

    def _fail(self, fault: UpstreamFault) -> None:
        if self._fault is None:
            self._fault = fault
        if self._head is not None and not self._head.done():
            self._head.set_exception(fault)
            self._head.exception()  # retrieved: a reader that went away must not make it "never retrieved"
        self._wake()
        self._close()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(deadline, self._timer_fired), deadline

    def _timer_fired(self) -> None:
        self._timer = None
        deadline = self._head_deadline
        if deadline is None:  # the head came (or the connection is idle): nothing to time
            return
        if deadline > self._timer_at:  # armed for an earlier request's deadline
            self._arm(self._loop or asyncio.get_running_loop(), deadline)
            return
        self._head_deadline = None
        self._fail(AnswerLate("no answer before the response deadline", answered=self._head_bytes > 0))

    def _stop_deadline(self) -> None:
        """The head came: the timer stays armed for the next request (``_timer_fired`` tells)."""
        self._head_deadline = None

    def _cancel_timer(self) -> None:
        self._head_deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        self._cancel_timer()
        self.closed = True
        self._reusable = False
        if self.transport is not None:
            self.transport.close()
