"""CPU of one signing round trip through real ZeroMQ sockets, both ends in one process (c=1's shape).

A ``DealerChannel`` (the front door's side) asks a ``RouterServer`` holding a ``SignerService`` with its
keypair in memory (``bench.hop_codec.signer``) to sign one request, waits for the answer, and asks again:
the front door's item, seal and send, libzmq's I/O threads, the signer's receive, open, answer, seal and
send, and the front door's receive, open and reply check, over an ipc socket.  Printed: the best of
``--repeat`` runs of ``--requests`` round trips, in CPU microseconds per round trip (the process's CPU
time, every thread).  To compare two trees, run it alternately from each (``cd <tree>``), best of several.

Usage: .venv/bin/python -m bench.signer_dispatch [--requests 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time

import zmq.asyncio

from bench.hop_codec import KEY, REQUEST, signer
from contract.requests import SigningReply
from service_runtime.channel_client import DealerChannel
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments


async def round_trips(channel: DealerChannel, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        reply = SigningReply.from_item(await channel.request(REQUEST.to_item, 5.0))
        assert reply.error is None, reply.error
    return (time.process_time() - started) / count * 1e6


async def measure(requests: int, repeat: int) -> float:
    context = zmq.asyncio.Context()
    with tempfile.TemporaryDirectory() as directory:
        endpoint = f"ipc://{directory}/signer.sock"
        server = RouterServer(context, endpoint, KEY, 10.0, signer().handle, instruments=Instruments())
        server.bind()
        serving = asyncio.create_task(server.serve())
        channel = DealerChannel(context, endpoint, KEY, 10.0, "sign", instruments=Instruments())
        while not channel.connected:
            await asyncio.sleep(0.01)
        await round_trips(channel, 200)  # warm
        best = min([await round_trips(channel, requests) for _ in range(repeat)])
        channel.close()
        serving.cancel()
        server.close()
    context.destroy(linger=0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    best = asyncio.run(measure(args.requests, args.repeat))
    print(json.dumps({"us_per_round_trip": round(best, 2)}))


if __name__ == "__main__":
    main()
