"""The signing round trip at one connection: sent at the end of its loop turn, at once, or overlapped.

Two processes, the real hop (``bench.signer_batches``'s answerer: a ``RouterServer`` doing a signer's
per-item work over ipc).  One request at a time, as at one connection; between requests the asker
pauses 0.5 ms so the answerer sleeps, as a signer does while the front door and the Manager work.
Each request is the signing round trip plus the upstream headers of a browser's proxied call
(``frontdoor.upstream.upstream_headers`` of a typical header set, then the signature merged),
made after the reply.  ``queued``: as before this change, the request sent at the end of the loop
turn (the channel is made to take its batching path by an entry that is never answered);
``at-once``: sent at once, as an idle channel does now; ``meanwhile``: sent at once, the headers
made while the signer works (``DealerChannel.request``'s ``meanwhile``).  Batches of the three
alternate (rotating order); printed per mode: the median of the batches' p50 and the best p50 of a batch, in µs from
the request to the headers ready.

Usage: .venv/bin/python -m bench.signing_round_trip [--batches 20] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import uvloop
import zmq.asyncio
from multidict import CIMultiDict, CIMultiDictProxy

from bench.signer_batches import KEY, MAX_AGE, REQUEST, answer
from frontdoor.upstream import cookie_rules, upstream_headers
from service_runtime.channel_client import DealerChannel, PeerLost
from service_runtime.instruments import Instruments

BROWSER = CIMultiDictProxy(
    CIMultiDict(
        {
            "Host": "webui.example.com",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Accept": "application/json",
            "Accept-Language": "en-US,en;q=0.5",
            "Accept-Encoding": "gzip, deflate, br",
            "Content-Type": "application/json",
            "Cookie": "AIOHTTP_SESSION=" + "s" * 43 + "; theme=dark; lang=en",
            "Origin": "https://webui.example.com",
            "Referer": "https://webui.example.com/summary",
        }
    )
)
RULES = cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)


def unsigned() -> CIMultiDict:
    return upstream_headers(
        BROWSER,
        api_version="v8.20240315",
        domain="default",
        host="127.0.0.1:8091",
        client_ip="10.0.0.1",
        scheme="https",
        withheld_cookies=RULES.withheld,
        signed={},
        request_id="0123456789abcdef",
    )


async def one(channel: DealerChannel, mode: str) -> float:
    queued = mode == "queued"
    if queued:  # never answered: the channel is not idle, so the request waits for the loop turn's end
        channel._pending[0] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    if mode == "meanwhile":
        made: list[CIMultiDict] = []
        reply = await channel.request(REQUEST.to_item, 5.0, lambda: made.append(unsigned()))
        headers = made[0]
    else:
        reply = await channel.request(REQUEST.to_item, 5.0)
        headers = unsigned()
    headers.update(reply["headers"])
    elapsed = time.perf_counter() - started
    if queued:
        del channel._pending[0]
    return elapsed


async def measure(endpoint: str, batches: int, rounds: int) -> dict[str, list[float]]:
    channel = DealerChannel(zmq.asyncio.Context(), endpoint, KEY, MAX_AGE, "sign", instruments=Instruments())
    while not channel.connected:
        await asyncio.sleep(0.01)
    modes = ["queued", "at-once", "meanwhile"]
    p50s: dict[str, list[float]] = {mode: [] for mode in modes}
    for batch in range(batches):
        for mode in modes[batch % 3 :] + modes[: batch % 3]:
            times = []
            for _ in range(rounds):
                try:
                    times.append(await one(channel, mode))
                except PeerLost:
                    raise SystemExit("the answerer went away") from None
                await asyncio.sleep(0.0005)
            p50s[mode].append(statistics.median(times) * 1e6)
    channel.close()
    return p50s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overlap-", dir="/tmp") as directory:
        endpoint = f"ipc://{Path(directory) / 'signer.sock'}"
        answerer = multiprocessing.Process(target=answer, args=(endpoint,), daemon=True)
        answerer.start()
        try:
            p50s = uvloop.run(measure(endpoint, args.batches, args.rounds))
        finally:
            answerer.kill()
    for mode, values in p50s.items():
        print(f"{mode:>9}: p50 median of batches {statistics.median(values):.1f} µs, best {min(values):.1f} µs")


if __name__ == "__main__":
    main()
