"""A deployment upstream for tests: a real aiohttp server on loopback that records what reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict

from tests.support.ports import free_port


@dataclass
class RecordingUpstream:
    """Answers ``{"echo": <query echo>, "path": <raw path>}`` and keeps every request's headers."""

    port: int = field(default_factory=free_port)
    received: list[CIMultiDict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _answer(self, request: web.Request) -> web.Response:
        self.received.append(CIMultiDict(request.headers))
        self.paths.append(request.raw_path)
        return web.json_response({"echo": request.query.get("echo"), "path": request.raw_path})

    async def start(self) -> "RecordingUpstream":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
