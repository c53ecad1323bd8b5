"""The floor of a Python proxy hop: what our front door (and signer) could approach at best.

One aiohttp + uvloop process whose one real handler forwards ``GET /func/<path>`` to the upstream with
aiohttp's client (one keep-alive session made at start, no per-call options) and copies the small
answer back in one piece: no logging, no metrics, no session, no checks of any kind.  With
``--signer ENDPOINT`` every request first makes one ZeroMQ round trip to ``bench/floor_signer.py``
(a DEALER connected over ``ipc://``, as our front doors talk to our signers; the socket's FD read from
the loop) and sends the signature it gets as the ``Authorization`` header (with several ``--signer``, one DEALER
connected to each, which ZeroMQ serves in turn).  With ``--reuse-port`` several of these processes
share the port (SO_REUSEPORT), as our front doors do.  ``POST /server/login``
and ``/server/logout`` answer what the benchmark harness expects, without any session.

Usage: python -m bench.floor_proxy --port P --upstream http://127.0.0.1:U [--signer ipc://...]... [--reuse-port]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

import aiohttp
import uvloop
import zmq
from aiohttp import web
from yarl import URL

POLLIN, EVENTS, NOBLOCK, SNDMORE = int(zmq.POLLIN), int(zmq.EVENTS), int(zmq.NOBLOCK), int(zmq.SNDMORE)
LOGIN_ANSWER = json.dumps({"authenticated": True, "data": {}}).encode()
PREFIX = len("/func")


class SignerLink:
    """Requests to the floor signer, many in flight on one DEALER socket, replies matched by id."""

    def __init__(self, endpoints: list[str]):
        self._loop = asyncio.get_running_loop()
        self._socket = zmq.Context.instance().socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        for endpoint in endpoints:
            self._socket.connect(endpoint)
        self._pending: dict[bytes, asyncio.Future] = {}
        self._ids = itertools.count()
        self._loop.add_reader(self._socket.FD, self._drain)

    async def sign(self, text: bytes) -> dict:
        request_id = next(self._ids).to_bytes(8, "little")
        future = self._loop.create_future()
        self._pending[request_id] = future
        self._socket.send(request_id, NOBLOCK | SNDMORE)
        self._socket.send(text, NOBLOCK)
        self._loop.call_soon(self._drain)  # ZeroMQ's FD is edge-triggered: a send may take a reply's signal
        try:
            return await future
        finally:
            del self._pending[request_id]

    def _drain(self) -> None:
        socket = self._socket
        while socket.get(EVENTS) & POLLIN:
            request_id, body = socket.recv_multipart(NOBLOCK)
            future = self._pending.get(request_id)
            if future is not None and not future.done():
                future.set_result(json.loads(body))


def build_app(upstream: str, signer_endpoints: list[str]) -> web.Application:
    state: dict = {}

    async def start(_app: web.Application) -> None:
        state["session"] = aiohttp.ClientSession()
        state["signer"] = SignerLink(signer_endpoints) if signer_endpoints else None

    async def stop(_app: web.Application) -> None:
        await state["session"].close()

    async def forward(request: web.Request) -> web.Response:
        target = request.raw_path[PREFIX:]
        headers = None
        if state["signer"] is not None:
            signed = await state["signer"].sign(f"GET {target} {int(time.time())}".encode())
            headers = {"Authorization": f"BackendAI signMethod=HMAC-SHA256, credential=floor:{signed['signature']}"}
        async with state["session"].get(URL(upstream + target, encoded=True), headers=headers) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status, content_type=answer.content_type)

    async def login(_request: web.Request) -> web.Response:
        return web.Response(body=LOGIN_ANSWER, content_type="application/json")

    app = web.Application()
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_get("/func/{tail:.*}", forward)
    app.router.add_post("/server/login", login)
    app.router.add_post("/server/logout", login)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the fast upstream's base URL")
    parser.add_argument("--signer", action="append", default=[], help="a floor signer's ZeroMQ endpoint (ipc://...)")
    parser.add_argument("--reuse-port", action="store_true", help="share the port with other floor proxies")
    args = parser.parse_args()
    app = build_app(args.upstream.rstrip("/"), args.signer)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        reuse_port=args.reuse_port or None,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
