"""How long one signer takes to answer k signing items that arrive in one message, and its CPU.

Two processes, the real hop: the front door's ``DealerChannel`` asks a ``RouterServer`` over ipc whose
handler does a signer's per-item work (check the item, hash the session id, sign with a cached
keypair, build the reply).  k requests issued in one loop turn travel as one message; between rounds
the asker pauses 1 ms so each round wakes the answerer, as a new batch does in the stack.  Printed
per k: the round trip's p50 and p99 (the last item's wait) and the answerer's CPU per message and per
item (from /proc, clock ticks: ~25 µs resolution over 400 rounds).  Used to choose the packing
threshold of ``frontdoor.balancing`` (docs/performance.md, "Packing requests onto fewer signers").

Usage: .venv/bin/python -m bench.signer_batches [--sizes 1,2,4,8,16,32,64] [--rounds 400]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import uvloop
import zmq.asyncio

from contract.requests import SigningReply, SigningRequest
from service_runtime.channel_client import DealerChannel, PeerLost
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from signer_worker.signing import Keypair

KEY = bytes(range(32))
MAX_AGE = 10.0
REQUEST = SigningRequest(
    0, "s" * 32, "GET", "/func/auth?echo=bench", "127.0.0.1:8091", "application/json", "v8.20240315"
)


def sign_items(keypair: Keypair, items: list[dict]) -> list[dict]:
    replies = []
    for item in items:
        request = SigningRequest.from_item(item)
        hashlib.sha256(request.session_id.encode()).hexdigest()  # the signer's session lookup key
        headers = keypair.signed_headers(
            request.method, request.target, request.host, request.content_type, request.api_version
        )
        replies.append(SigningReply.signed_item(request.rid, headers))
    return replies


def answer(endpoint: str) -> None:
    """The answering process: a RouterServer doing a signer's per-item work, until killed."""
    keypair = Keypair("AKIA" + "x" * 16, "y" * 40)

    async def serve() -> None:
        server = RouterServer(
            zmq.asyncio.Context(),
            endpoint,
            KEY,
            MAX_AGE,
            lambda envelope: sign_items(keypair, envelope.items),
            instruments=Instruments(),
        )
        server.bind()
        await server.serve()

    uvloop.run(serve())


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ask(endpoint: str, answerer_pid: int, sizes: list[int], rounds: int) -> None:
    channel = DealerChannel(zmq.asyncio.Context(), endpoint, KEY, MAX_AGE, "sign", instruments=Instruments())
    item = REQUEST.to_item()
    while True:  # until the answerer is bound and its connection is complete
        try:
            await channel.request(lambda rid: {**item, "rid": rid}, 5.0)
            break
        except PeerLost:
            await asyncio.sleep(0.01)
    print("| items in one message | round trip p50 ms | p99 ms | answerer CPU µs per message | per item |")
    print("|---|---|---|---|---|")
    for size in sizes:
        waits = []
        cpu_before = cpu_seconds(answerer_pid)
        for _ in range(rounds):
            started = time.perf_counter()
            await asyncio.gather(*(channel.request(lambda rid: {**item, "rid": rid}, 5.0) for _ in range(size)))
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.001)  # the answerer goes back to sleep: each round is a wake-up
        per_message = (cpu_seconds(answerer_pid) - cpu_before) / rounds * 1e6
        waits.sort()
        print(
            f"| {size} | {statistics.median(waits) * 1e3:.2f} | {waits[int(len(waits) * 0.99)] * 1e3:.2f} "
            f"| {per_message:.0f} | {per_message / size:.0f} |",
            flush=True,
        )
    channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,2,4,8,16,32,64")
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webui-host-batches-") as directory:
        endpoint = f"ipc://{Path(directory) / 'signer.sock'}"
        answerer = multiprocessing.get_context("spawn").Process(target=answer, args=(endpoint,), daemon=True)
        answerer.start()
        try:
            uvloop.run(ask(endpoint, answerer.pid, [int(s) for s in args.sizes.split(",")], args.rounds))
        finally:
            answerer.kill()
            answerer.join()


if __name__ == "__main__":
    main()
