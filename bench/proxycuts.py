"""Interleaved micro-benchmarks of the ninth session's cuts to the upstream request (``proxycuts``), old
against new, in one uvloop: main's modules loaded from ``--baseline`` beside this checkout's, the two
alternated batch by batch, each figure the best of ``--repeats`` batches of ``time.process_time`` in µs
per call, the garbage collector off during a batch (``bench.frontcuts``' harness).

Items:
- ``request_bytes``: a proxied GET's upstream bytes from the browser's headers (12 headers, 3 cookies)
  and a signature: main's CIMultiDict (``upstream_headers``, the signature merged, ``request_wire``
  over its pairs) against ``upstream_fields`` + ``merge_fields`` + ``fields_wire``.
- ``upstream_target``: where an attempt goes, with the lean client's pool key asked twice (send and
  release): main's yarl URL and frozen dataclass against the plain class.
- ``manager_grants``: the Manager's deployment: the caller and its group looked up for ``may_call``
  (main), against none (its answer is yes whoever calls).
- ``endpoint_pool``: a deployment's one upstream chosen, started and finished (main built a tuple of
  its urls and two candidate lists per request).
- ``slots``: the lean client's limit of connections in use, a slot taken and given back: main's
  asyncio.Semaphore (``locked`` for the deadline, then ``acquire``) against ``Slots``.
- ``head_timer``: a request's head deadline on a kept-alive connection: a timer made and cancelled
  (main) against the armed one left as it is.

Usage: .venv/bin/python -m bench.proxycuts --baseline DIR [--repeats 15] [--batch 20000] [ITEM ...]
(DIR: a checkout from before the ninth session, e.g. ``git worktree add DIR d6eb72b``; main itself no
longer has the old side of ``request_bytes``.)
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import uvloop
from multidict import CIMultiDict, CIMultiDictProxy

from bench import frontcuts
from bench.frontcuts import load_baseline

ITEMS = {}
SIGNED = {
    "Date": "2026-11-30T06:40:00.000000+00:00",
    "Authorization": "BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:" + "0" * 64,
}


def item(function):
    ITEMS[function.__name__] = function
    return function


def browser_headers() -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(
        CIMultiDict(
            [
                ("Host", "127.0.0.1:8090"),
                ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
                ("Accept", "application/json"),
                ("Accept-Language", "ko,en;q=0.8"),
                ("Accept-Encoding", "gzip, deflate, br"),
                ("Content-Type", "application/json"),
                ("X-BackendAI-Version", "v9.20250722"),
                ("Origin", "http://127.0.0.1:8090"),
                ("Referer", "http://127.0.0.1:8090/summary"),
                ("Cookie", "AIOHTTP_SESSION=0123456789abcdef0123456789abcdef; lang=ko; theme=dark"),
                ("Connection", "keep-alive"),
                ("X-Request-ID", "0123456789abcdef"),
            ]
        )
    )


@item
def request_bytes():
    from frontdoor import lean_client, upstream

    old_upstream = load_baseline("baseline_upstream", "frontdoor/upstream.py")
    old_lean = load_baseline("baseline_lean_client", "frontdoor/lean_client.py")
    incoming = browser_headers()
    rules = upstream.cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    common = dict(
        api_version="v9.20250722",
        domain="default",
        host="127.0.0.1:8081",
        client_ip="127.0.0.1",
        scheme="http",
        withheld_cookies=rules.withheld,
        request_id="0123456789abcdef",
    )

    def old():
        headers = old_upstream.upstream_headers(incoming, **common, signed={})
        headers.update(SIGNED)
        return old_lean.request_wire("GET", "/auth?echo=bench", headers.items(), b"")

    def new():
        fields = upstream.upstream_fields(incoming, **common)
        upstream.merge_fields(fields, SIGNED)
        return lean_client.fields_wire("GET", "/auth?echo=bench", fields, b"")

    assert old() == new()
    return old, new


@item
def upstream_target():
    from frontdoor import upstream

    old_upstream = load_baseline("baseline_upstream", "frontdoor/upstream.py")
    old_lean = load_baseline("baseline_lean_client", "frontdoor/lean_client.py")

    def old():
        target = old_upstream.upstream_target("http://127.0.0.1:8081", "/auth?echo=bench")
        return old_lean.endpoint_of(target.url), old_lean.endpoint_of(target.url), target.target

    def new():
        target = upstream.upstream_target("http://127.0.0.1:8081", "/auth?echo=bench")
        return target.endpoint, target.endpoint, target.target

    assert old() == new()
    return old, new


@item
def manager_grants():
    from contract.deployment_rules import manager_deployment
    from contract.redis_layout import SessionRecord
    from contract.webapi import MANAGER_DEPLOYMENT, GroupsSnapshot, may_call
    from frontdoor.context import caller_of

    deployment = manager_deployment(["http://127.0.0.1:8081"], "DEFAULT")
    groups = GroupsSnapshot()
    record = SessionRecord("user@lablup.com", "AKIAIOSFODNN7EXAMPLE", "user", "active", 0.0, 0.0, 0.0)

    def old():
        return may_call(caller_of(record, []), deployment.name, groups.group(deployment.group))

    def new():
        return deployment.name == MANAGER_DEPLOYMENT

    return old, new


@item
def endpoint_pool():
    from frontdoor.endpoint_pool import EndpointPool

    old_pool = load_baseline("baseline_endpoint_pool", "frontdoor/endpoint_pool.py").EndpointPool(["http://m:8081"])
    new_pool = EndpointPool(["http://m:8081"])
    upstreams = ("http://m:8081",)

    def attempt(pool):
        if pool.urls != upstreams:  # FrontDoor.endpoint_pool's check
            raise AssertionError
        url = pool.choose(set())
        pool.started(url)
        pool.finished(url)
        return url

    return (lambda: attempt(old_pool)), (lambda: attempt(new_pool))


@item
async def slots():
    from frontdoor.lean_client import Slots

    semaphore, ours = asyncio.Semaphore(100), Slots(100)

    async def old():
        if semaphore.locked():  # main's send: the deadline's check, then acquire
            raise AssertionError
        await semaphore.acquire()
        semaphore.release()

    async def new():
        if not ours.take():
            raise AssertionError
        ours.give()

    return (lambda: _run_through(old)), (lambda: _run_through(new))


def _run_through(make):
    """A coroutine that never suspends, run to its end without the loop (as an awaiting handler would)."""
    coroutine = make()
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("suspended")


@item
async def head_timer():
    loop = asyncio.get_running_loop()
    armed = loop.call_at(loop.time() + 3600, lambda: None)
    armed_at = loop.time() + 3600

    def old():
        loop.call_at(loop.time() + 300, old).cancel()

    def new():
        deadline = loop.time() + 300
        if armed is None or armed_at > deadline + 3600:
            loop.call_at(deadline, new)

    return old, new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument(
        "--baseline",
        type=Path,
        required=True,
        help="a checkout from before the slice (git worktree add DIR d6eb72b): its old code is the 'old' side",
    )
    parser.add_argument("items", nargs="*", default=list(ITEMS))
    args = parser.parse_args()
    frontcuts.BASELINE = args.baseline
    frontcuts.ITEMS.clear()
    frontcuts.ITEMS.update(ITEMS)
    for name in args.items:
        uvloop.run(frontcuts.compare(name, args.repeats, args.batch))  # the front door's loop


if __name__ == "__main__":
    main()
