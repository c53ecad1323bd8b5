"""CPU of one proxied request through the front door's app, in one process: ``build_app`` (real Redis and
etcd beside it) on uvloop, a raw keep-alive client and a raw upstream in the same loop.

The request is ``GET /func/`` (the Manager's public version: no session, no signing hop), so what is
measured is the request's way through the middlewares, the proxy handler, the lean client and the
answer's headers and write, plus the constant cost of the client and the upstream.  Run it with two
checkouts' interpreters in turn (``--baseline DIR`` does that: each round runs this file once under
``DIR/.venv/bin/python`` and once under this checkout's, each importing its own ``frontdoor``) and
compare: the best of ``--repeats`` batches of ``--requests`` sequential requests, µs of process CPU each.

Usage: .venv/bin/python -m bench.answer_path [--baseline DIR --rounds 3] [--requests 3000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = b'{"version": "v7.20230615", "manager": "23.09.10"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n"
    b"Date: Mon, 30 Nov 2026 01:00:00 GMT\r\nServer: Python/3.11 aiohttp/3.14.5\r\n\r\n%s" % (len(BODY), BODY)
)


class Upstream(asyncio.Protocol):
    """Answers every request head with ``ANSWER`` (the requests carry no body)."""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.transport.write(ANSWER)


class Client(asyncio.Protocol):
    """One keep-alive connection: ``ask`` writes a request and returns when its whole answer came."""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.waiter: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        start = self.buffer.find(b"\r\nContent-Length: ") + 18
        length = int(self.buffer[start : self.buffer.find(b"\r\n", start)])
        if len(self.buffer) >= head_end + 4 + length:
            answer, self.buffer = self.buffer[: head_end + 4 + length], self.buffer[head_end + 4 + length :]
            self.waiter.set_result(answer)

    async def ask(self, request: bytes) -> bytes:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


async def measure(requests: int, repeats: int) -> list[float]:
    from aiohttp import web

    from contract.config import parse_config
    from frontdoor.app import build_app
    from service_runtime.instruments import Instruments
    from service_runtime.jsonlog import setup_logging
    from service_runtime.keyfiles import ensure_secrets
    from service_runtime.settings import Settings
    from tests.support.ports import free_port
    from tests.support.servers import start_etcd, start_redis

    setup_logging("frontdoor")  # the request line too, to stderr (the caller sends it to /dev/null)
    loop = asyncio.get_running_loop()
    directory = Path(tempfile.mkdtemp(prefix="bap-", dir="/tmp"))
    secrets_dir = directory / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle, etcd = start_redis(directory, secrets_dir), start_etcd(directory)
    try:
        upstream = await loop.create_server(Upstream, "127.0.0.1", 0)
        manager = f"http://127.0.0.1:{upstream.sockets[0].getsockname()[1]}"
        config = parse_config(
            {
                "api": {"endpoint": [manager]},
                "session": {"redis": {"addr": redis_handle.addr}},
                "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
                "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(secrets_dir)},
                "zmq": {"ipc_dir": str(directory / "ipc")},
            }
        )
        runner = web.AppRunner(build_app(Settings(config, [manager]), Instruments()), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        _transport, client = await loop.create_connection(Client, "127.0.0.1", port)
        request = b"GET /func/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n\r\n" % port
        assert (await client.ask(request)).startswith(b"HTTP/1.1 200 ")
        for _ in range(requests):  # warm-up
            await client.ask(request)
        per_request = []
        for _ in range(repeats):
            started = time.process_time()
            for _ in range(requests):
                await client.ask(request)
            per_request.append((time.process_time() - started) / requests * 1e6)
        await runner.cleanup()
        return per_request
    finally:
        redis_handle.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


def run_once(python: Path, checkout: Path, requests: int, repeats: int) -> list[float]:
    done = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--inner", "--requests", str(requests), "--repeats", str(repeats)],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(x) for x in done.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        import uvloop

        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the request lines)
        print(" ".join(f"{x:.2f}" for x in uvloop.run(measure(args.requests, args.repeats))))
        return
    checkouts = {"this": ROOT}
    if args.baseline is not None:
        checkouts = {"baseline": args.baseline.resolve(), "this": ROOT}
    for round_number in range(args.rounds):
        for name, checkout in checkouts.items():
            runs = run_once(checkout / ".venv/bin/python", checkout, args.requests, args.repeats)
            print(
                f"round {round_number} {name:8s} best {min(runs):7.2f} µs/request "
                f"(of {', '.join(f'{x:.1f}' for x in runs)}) load {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
