"""A signer's CPU per message at one connection, served from the event loop or by a blocking receive.

Two processes over ipc, one request at a time (c=1's shape): an asker (a plain blocking DEALER that
seals a one-item ``sign`` message per request, as a front door does, and waits for the reply) and a
server in its own process, one of:

- ``loop``: a ``RouterServer`` read from uvloop (``zmq_loop.LoopSocket``: the loop's wake-up, the
  reader callback, the receive, the ``EVENTS`` look) answering with a signer's work
  (``bench.hop_codec.signer``: open, check, sign from memory, seal, count after the send);
- ``blocking``: the same ``RouterServer._dispatch`` fed by a blocking ``recv_multipart`` in a plain
  loop, as ``bench/floor_signer.py`` receives (no event loop, no ``EVENTS`` look);
- ``loop-echo`` and ``blocking-echo``: the two receives with no message work (the frames sent back):
  what the transport and the serving side cost alone.

The asker pauses ``--pause-us`` between requests so that the server sleeps and is woken for each
message, as a signer at c=1 is.  Printed per variant: the server process's CPU (every thread) per
message, best of ``--repeat`` runs, in µs; variants alternate within each repeat.

Usage: .venv/bin/python -m bench.signer_serving [--requests 2000] [--repeat 5] [--pause-us 300] [--variants loop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time

import psutil
import zmq

from bench.hop_codec import KEY, REQUEST, signer
from contract.messages import MessageSealer

VARIANTS = ("loop", "blocking", "loop-echo", "blocking-echo")


def _serve_loop(endpoint: str, echo: bool) -> None:
    import uvloop
    import zmq.asyncio

    from service_runtime.channel_server import RouterServer
    from service_runtime.instruments import Instruments
    from service_runtime.zmq_loop import LoopSocket

    async def serve() -> None:
        context = zmq.asyncio.Context()
        if echo:
            link = LoopSocket(context, zmq.ROUTER)
            link.socket.bind(endpoint)
            link.start(link.send)
            await asyncio.get_running_loop().create_future()
        service = signer()
        server = RouterServer(
            context, endpoint, KEY, 10.0, service.handle, instruments=Instruments(), answered=service.answered
        )
        server.bind()
        await server.serve()

    uvloop.run(serve())


class _BlockingLink:
    """What ``RouterServer._send`` sends through, on a plain socket."""

    def __init__(self, socket: zmq.Socket):
        self.socket = socket

    def send(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames, zmq.NOBLOCK)

    def send_routed(self, identity: bytes, frame: bytes) -> None:
        self.socket.send_multipart([identity, frame], zmq.NOBLOCK)


def _serve_blocking(endpoint: str, echo: bool) -> None:
    import zmq.asyncio

    from service_runtime.channel_server import RouterServer
    from service_runtime.instruments import Instruments

    socket = zmq.Context().socket(zmq.ROUTER)
    socket.bind(endpoint)
    receive = socket.recv_multipart
    if echo:
        while True:
            socket.send_multipart(receive(), zmq.NOBLOCK)
    service = signer()
    server = RouterServer(
        zmq.asyncio.Context(), endpoint, KEY, 10.0, service.handle, instruments=Instruments(), answered=service.answered
    )
    server._link = _BlockingLink(socket)
    dispatch = server._dispatch
    while True:
        dispatch(receive())


def serve(variant: str, endpoint: str) -> None:
    echo = variant.endswith("-echo")
    if variant.startswith("loop"):
        _serve_loop(endpoint, echo)
    else:
        _serve_blocking(endpoint, echo)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def ask(endpoint: str, server: psutil.Process, requests: int, pause: float) -> float:
    """The server's CPU µs per message over ``requests`` round trips."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, 5000)  # a server that failed ends the run (zmq.Again), not hangs it
    socket.connect(endpoint)
    sealer = MessageSealer(KEY, 10.0)
    item = REQUEST.to_item()

    def round_trips(count: int) -> None:
        for _ in range(count):
            socket.send_multipart(sealer.seal("sign", [item]))
            socket.recv_multipart()
            deadline = time.perf_counter() + pause
            while time.perf_counter() < deadline:  # (spin: a sleep's own wake-up is no finer)
                pass

    round_trips(200)  # warm
    before = _cpu(server)
    round_trips(requests)
    spent = _cpu(server) - before
    socket.close()
    context.term()
    return spent / requests * 1e6


def measure(requests: int, repeat: int, pause: float, variants: tuple[str, ...] = VARIANTS) -> dict[str, float]:
    best = {variant: float("inf") for variant in variants}
    with tempfile.TemporaryDirectory() as directory:
        for run in range(repeat):
            for variant in variants[run % len(variants) :] + variants[: run % len(variants)]:
                endpoint = f"ipc://{directory}/{variant}.sock"
                child = subprocess.Popen([sys.executable, "-m", "bench.signer_serving", "--serve", variant, endpoint])
                try:
                    time.sleep(0.5)  # bound and serving
                    best[variant] = min(best[variant], ask(endpoint, psutil.Process(child.pid), requests, pause))
                finally:
                    child.kill()
                    child.wait()
    return {variant: round(value, 2) for variant, value in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pause-us", type=float, default=300)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    parser.add_argument("--serve", nargs=2, metavar=("VARIANT", "ENDPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    print(
        json.dumps(
            {
                "server_cpu_us_per_message": measure(
                    args.requests, args.repeat, args.pause_us / 1e6, tuple(args.variants.split(","))
                )
            }
        )
    )


if __name__ == "__main__":
    main()
