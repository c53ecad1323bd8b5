"""Many idle WebSockets through a stack, as browsers keep them: open them in bursts, keep each one
read (so pings are answered and a close is noticed), echo on a sample, count those that ended."""

from __future__ import annotations

import asyncio
import resource
import time

import aiohttp


def raise_fd_limit(count: int) -> int:
    """Raise the soft open-files limit to the hard one (a stack started afterwards inherits it); the
    limit in force, which must leave room for ``count`` sockets (the client and the Manager each hold
    one descriptor per socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < count + 1000:
        raise RuntimeError(f"open-files limit {soft} is too low for {count} WebSockets (raise the hard limit)")
    return soft


class Idle:
    """One idle WebSocket and its reader: like a browser, it answers pings (aiohttp's client does so
    only while someone reads) and notices a close; texts are kept for the echo sample."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse):
        self.socket = socket
        self.texts: asyncio.Queue[str] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.texts.put_nowait(message.data)

    @property
    def ended(self) -> bool:
        return self.reader.done()

    async def close(self) -> None:
        await self.socket.close()
        self.reader.cancel()


async def open_sockets(
    session: aiohttp.ClientSession, count: int, burst: int, path: str = "/func/stream/echo"
) -> tuple[list[Idle], int, float]:
    """(the sockets opened, handshakes failed, seconds taken): ``burst`` handshakes under way at once."""
    sockets: list[Idle] = []
    failed = 0
    started = time.monotonic()

    async def one() -> None:
        nonlocal failed
        try:
            sockets.append(Idle(await session.ws_connect(path)))
        except (TimeoutError, aiohttp.ClientError):
            failed += 1

    for start in range(0, count, burst):
        await asyncio.gather(*(one() for _ in range(min(burst, count - start))))
    return sockets, failed, time.monotonic() - started


async def echo_sample(sockets: list[Idle], sample: int) -> dict[str, int]:
    """What a sample of the sockets answered to an echo (idle is not dead): outcome -> count."""
    outcomes: dict[str, int] = {}
    for idle in sockets[:: max(1, len(sockets) // sample)][:sample]:
        try:
            await idle.socket.send_str("ping")
            outcome = "echo" if await asyncio.wait_for(idle.texts.get(), 5) == "ping" else "other text"
        except (TimeoutError, aiohttp.ClientError) as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def closed_codes(sockets: list[Idle]) -> dict:
    """Close codes of the sockets that ended while they should have stayed open."""
    codes: dict = {}
    for idle in sockets:
        if idle.ended:
            codes[idle.socket.close_code] = codes.get(idle.socket.close_code, 0) + 1
    return codes


async def close_all(sockets: list[Idle]) -> None:
    await asyncio.gather(*(idle.close() for idle in sockets), return_exceptions=True)
