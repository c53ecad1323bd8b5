"""A real TCP server that answers each HTTP request with scripted bytes, however wrong they are.

It reads each request's head and ``Content-Length`` body, records them, and writes the next entry of ``answers``: bytes, ``AndClose``
bytes (written, then the connection closed), ``CLOSE`` (close without answering) or ``HANG`` (no answer).  Once the script is used up, every request gets ``DEFAULT``.  ``stray``
writes bytes on the last connection when the test says so (e.g. while the client holds it idle).
"""

from __future__ import annotations

import asyncio

DEFAULT = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b""
HANG = b"(never answered)"  # a request left without an answer until the client closes the connection


class AndClose(bytes):
    """An answer after which the server closes the connection (e.g. a body cut short)."""


class CraftedServer:
    def __init__(self, answers: list[bytes]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []  # each request's Content-Length body
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> CraftedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc) -> None:
        for writer in self._writers:  # Python 3.11's Server has no close_clients()
            writer.close()
        self._server.close()
        await self._server.wait_closed()

    async def stray(self, data: bytes) -> None:
        writer = self._writers[-1]
        writer.write(data)
        await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                self.bodies.append(await reader.readexactly(_content_length(head)))
                answer = self.answers.pop(0) if self.answers else DEFAULT
                if answer == CLOSE:
                    return
                if answer is HANG:
                    await reader.read()
                    return
                writer.write(answer)
                await writer.drain()
                if isinstance(answer, AndClose):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
