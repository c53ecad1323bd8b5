"""A TCP forwarder that can turn into a black hole: connections to it then hang in connect.

Forwarding, it passes bytes both ways to ``target``.  ``swallow()`` closes every forwarded connection
and re-listens with a full accept queue that nobody drains, so the kernel drops new SYNs and a client
sees its connect time out (what an unreachable Manager looks like), on loopback, without root.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.ports import free_port

CHUNK = 65536


class Blackhole:
    def __init__(self, target_port: int):
        self.port = free_port()
        self._target = ("127.0.0.1", target_port)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._fillers: list[socket.socket] = []
        self._listener = self._listen(backlog=128)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _listen(self, backlog: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(backlog)
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by swallow()
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(CHUNK):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    @property
    def swallowed(self) -> bool:
        return bool(self._fillers)

    def swallow(self) -> None:
        """From now on a new connection hangs in connect; open ones are closed."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, which frees the port
        self._listener.close()
        with self._lock:
            for end in self._open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self._open.clear()
        self._listener = self._listen(backlog=0)
        for _ in range(4):  # fill the accept queue (never accepted); later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)

    def close(self) -> None:
        self._listener.close()
        for filler in self._fillers:
            filler.close()
