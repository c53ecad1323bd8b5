"""A ZeroMQ socket read from the event loop without pyzmq's asyncio layer (the hop's data sockets).

pyzmq's asyncio socket makes a future, a timer check and several ``EVENTS`` lookups (each an enum
operation) per send and per receive; on the signing hop that was about half of the channel's own
CPU.  Here the plain socket's ``FD`` is watched by the loop and every readable signal drains what is
queued.  ZeroMQ's ``FD`` is edge-triggered: it signals that ``EVENTS`` may have changed, and any
operation on the socket (a send too) may consume that signal, so the queue is drained until
``EVENTS`` says it is empty (or a receive finds nothing), and ``EVENTS`` is looked at again after every
send.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import zmq
import zmq.asyncio

log = logging.getLogger(__name__)
POLLIN = int(zmq.POLLIN)  # a plain int: an enum flag costs microseconds per '&'
EVENTS = int(zmq.EVENTS)
NOBLOCK = int(zmq.NOBLOCK)
SNDMORE = int(zmq.SNDMORE)
DRAIN_BATCH = 256  # messages per loop turn; the rest next turn, so one busy peer cannot starve the loop
# libzmq's send as pyzmq's compiled socket has it: its Python subclass's ``send`` only adds the
# routing id and group of draft sockets (not used here), a Python call (~0.2 us) per frame.
_SEND = zmq.backend.Socket.send


class LoopSocket:
    def __init__(self, context: zmq.asyncio.Context, kind: int):
        # Made by the asyncio context, so it is one of the context's sockets (``destroy()`` closes it
        # too); used through a plain shadow of it.  No asyncio operation is ever made on the owner, so
        # it never registers with the loop itself.
        self._owner = context.socket(kind)
        self.socket = zmq.Socket.shadow(self._owner.underlying)
        self._on_message: Callable[[list[bytes]], None] | None = None
        self._receive: Callable[[zmq.Socket], list[bytes]] = receive_frames
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._draining = False  # a drain is running or scheduled

    def start(
        self, on_message: Callable[[list[bytes]], None], receive: Callable[[zmq.Socket], list[bytes]] | None = None
    ) -> None:
        """Call ``on_message`` with the frames of every message that arrives, from the running loop.

        ``receive`` reads one queued message's frames (``receive_frames`` unless given: a ROUTER's
        owner gives ``receive_routed``)."""
        self._on_message = on_message
        self._receive = receive or receive_frames
        self._loop = asyncio.get_running_loop()
        self._fd = self.socket.FD
        self._loop.add_reader(self._fd, self._drain)
        self._schedule_drain()  # messages queued before the reader was added signalled nobody

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._loop = None

    def send(self, frames: list[bytes]) -> None:
        """Send now, never waiting (``zmq.Again`` when no peer can take it)."""
        if self._owner.closed:  # never touch a closed libzmq socket through the shadow
            raise zmq.ZMQError(zmq.ENOTSOCK)
        try:
            send_frames(self.socket, frames)
        finally:
            self._drain_if_arrived()

    def send_routed(self, identity: bytes, frame: bytes) -> None:
        """A ROUTER's reply of one frame to the peer ``identity``: ``send([identity, frame])`` for two
        ``bytes``, without the frames' list and type check, and with no ``EVENTS`` look from a drain
        (the drain looks itself): the reply to every message a signer or the session daemon answers."""
        if self._owner.closed:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        try:
            _SEND(self.socket, identity, NOBLOCK | SNDMORE)
            _SEND(self.socket, frame, NOBLOCK)
        finally:
            if not self._draining:
                self._drain_if_arrived()

    def _drain_if_arrived(self) -> None:
        """A drain, if a message is queued: the send may have taken the FD's signal of its arrival.

        Looked at now (one ``EVENTS`` look, ~1.5 us) rather than by a drain in the next loop turn,
        which cost every send a loop iteration (an ``epoll_pwait``) that found nothing at low load.
        A running or scheduled drain looks at ``EVENTS`` again itself.
        """
        if self._draining or self._loop is None or self._owner.closed:
            return
        try:
            arrived = self.socket.get(EVENTS) & POLLIN
        except zmq.ZMQError:  # (a socket in a bad state: let the drain find out)
            arrived = True
        if arrived:
            self._schedule_drain()

    @property
    def closed(self) -> bool:
        return self._owner.closed  # (a shadow does not learn that its socket was closed)

    def close(self) -> None:
        self.stop()
        self._owner.close(linger=0)

    def _schedule_drain(self) -> None:
        if self._loop is not None and not self._draining:
            self._draining = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Handle what is queued, up to a batch; the rest in a drain of its own in the next loop turn.

        A drain is begun because something arrived (nearly always), so it receives at once and looks at
        ``EVENTS`` only after each message: one look a message rather than two.  When nothing had
        arrived the receive fails (``zmq.Again``, ~3 µs more than a look, and rare).  (One function
        with its loop: a Python call less per wake-up.)
        """
        self._draining = True  # sends made by the handler meanwhile need no drain of their own
        socket, on_message, receive = self.socket, self._on_message, self._receive
        look = False  # at EVENTS: not before the first receive
        try:
            for _ in range(DRAIN_BATCH):
                if self._owner.closed or on_message is None or self._loop is None:  # closed or stopped meanwhile
                    if self._owner.closed:  # (by the context's destroy(): its reader goes too)
                        self.stop()
                    return
                if look and not socket.get(EVENTS) & POLLIN:
                    return
                look = True
                try:
                    frames = receive(socket)
                except zmq.Again:
                    return
                try:
                    on_message(frames)
                except Exception:  # one bad message must not stop the drain, and with it the socket
                    log.exception("message handler failed", extra={"event": "handler_error"})
        finally:
            self._draining = False
        self._schedule_drain()  # a full batch: some may be left


# pyzmq's send_multipart and recv_multipart combine its enum flags per frame (~10 us per message
# pair on the hop); these do the same with plain ints.


def send_frames(socket: zmq.Socket, frames: list[bytes]) -> None:
    """``socket.send_multipart(frames, NOBLOCK)``: frames other than bytes are refused before any is sent."""
    for frame in frames:  # (a loop: all() over a generator costs ~0.4 µs more per message)
        if type(frame) is not bytes:
            socket.send_multipart(frames, NOBLOCK)  # (pyzmq's checks and conversions)
            return
    for frame in frames[:-1]:
        _SEND(socket, frame, NOBLOCK | SNDMORE)
    _SEND(socket, frames[-1], NOBLOCK)


def receive_frames(socket: zmq.Socket) -> list[bytes]:
    """``socket.recv_multipart(NOBLOCK)``.

    Each frame is received as a ``zmq.Frame`` and its ``more`` read from it: ``socket.get(RCVMORE)``
    turns the option into pyzmq's enum first (~2 us per frame, three frames per hop message).
    """
    recv = socket.recv
    frame = recv(NOBLOCK, copy=False)
    frames = [frame.bytes]
    while frame.more:
        frame = recv(NOBLOCK, copy=False)
        frames.append(frame.bytes)
    return frames


def receive_routed(socket: zmq.Socket) -> list[bytes]:
    """``receive_frames`` for a ROUTER: its first frame, the sender's routing id, is always followed by
    the sender's own frames, so it is received as ``bytes`` at once (no ``zmq.Frame`` to make and
    read ``more`` from: ~0.35 µs a message)."""
    recv = socket.recv
    frames = [recv(NOBLOCK)]
    frame = recv(NOBLOCK, copy=False)
    frames.append(frame.bytes)
    while frame.more:
        frame = recv(NOBLOCK, copy=False)
        frames.append(frame.bytes)
    return frames
