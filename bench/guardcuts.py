"""Interleaved micro-benchmarks of the ninth session's guard cuts (``guardcuts``), old against new.

Each item times main's code (loaded from ``--baseline``, a checkout of main before the change, beside
this checkout's modules) and this checkout's, in one process and one uvloop, the two alternated batch
by batch; a figure is the best of ``--repeats`` batches of ``time.process_time``, in µs per call, with
the garbage collector off during a batch (``bench.frontcuts``' harness).

Usage: .venv/bin/python -m bench.guardcuts --baseline DIR [--repeats 15] [--batch 20000] [ITEM ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Callable

import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bench import frontcuts
from contract.config import parse_config
from contract.redis_layout import SessionRecord
from frontdoor.context import SESSION
from frontdoor.trusted_proxies import TrustedProxies

ITEMS: dict[str, Callable[[], object]] = {}
NOW = time.time()
RECORD = SessionRecord("u@example.com", "AKIA", "user", "active", NOW, NOW, NOW + 3600)


def item(function):
    ITEMS[function.__name__] = function
    return function


@item
def auth_rule():
    """The Manager-auth rule of the benchmark's proxied path (``/func/auth?echo=bench``)."""
    from frontdoor import manager_auth

    old = frontcuts.load_baseline("baseline_manager_auth", "frontdoor/manager_auth.py")
    return (lambda: old.auth_rule("/func/auth?echo=bench")), (lambda: manager_auth.auth_rule("/func/auth?echo=bench"))


@item
def auth_rule_encoded():
    """The same for a path with an encoded segment (a folder's file with a space in its name)."""
    from frontdoor import manager_auth

    old = frontcuts.load_baseline("baseline_manager_auth", "frontdoor/manager_auth.py")
    path = "/func/folders/my%20data/request-download"
    return (lambda: old.auth_rule(path)), (lambda: manager_auth.auth_rule(path))


class NoSharedCounts:
    async def mget(self, *keys):
        return [None] * len(keys)


class Front:
    """``FrontDoor``'s session look-ups for a request whose session memory vouches for (the old guard
    awaits ``session``, the new one asks ``known_session``)."""

    def __init__(self, config):
        self.config, self.trusted_proxies = config, TrustedProxies([])

    def known_session(self, request: web.Request):
        record = request.get(SESSION)
        if record is None:
            record = request[SESSION] = RECORD
        return record

    async def session(self, request: web.Request):
        return self.known_session(request)


@item
async def guard():
    """``Security.guard`` on a proxied GET of a known session and a busy key, down to the handler."""
    from frontdoor import security
    from frontdoor.ratelimit_batched import BatchedLimiter

    old_security = frontcuts.load_baseline("baseline_security", "frontdoor/security.py")
    config = parse_config({"security": {"rate_limit": {"enabled": True, "requests": 10**9}}})
    front = Front(config)

    def made(module):
        keys = BatchedLimiter(NoSharedCounts(), 60, 0.1)
        return module.Security(front, logins=None, keys=keys, password_checks=None)

    olds, news = made(old_security), made(security)
    headers = {"Host": "localhost", "Cookie": "webui_session=s3ss10n", "Accept": "application/json"}
    loop = asyncio.get_running_loop()

    async def handler(_request):
        return None

    requests = {
        chosen: make_mocked_request("GET", "/func/session/abc/logs?x=1", headers=headers, loop=loop)
        for chosen in (olds, news)
    }

    def one(chosen):
        request = requests[chosen]
        request.pop(SESSION, None)  # a new request's state (the same for both)
        step = chosen.guard(request, handler)
        try:
            step.send(None)  # the guard never suspends here: it ends in its first step
        except StopIteration:
            return
        raise RuntimeError("the guard suspended")

    for chosen in (olds, news):  # the key's first request reads its (absent) counts: not timed
        await chosen.guard(requests[chosen], handler)
    return (lambda: one(olds)), (lambda: one(news))


@item
def caller():
    """The Web API Groups caller of a proxied request's session (no endpoint admin configured)."""
    from frontdoor import context

    old = frontcuts.load_baseline("baseline_context", "frontdoor/context.py")
    return (lambda: old.caller_of(RECORD, [])), (lambda: context.caller_of(RECORD, []))


@item
def request_line():
    """The request line (``LineLogger.info``), as ``bench.frontcuts`` times it."""
    return frontcuts.ITEMS["request_line"]()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("items", nargs="*", default=list(ITEMS))
    args = parser.parse_args()
    frontcuts.BASELINE = args.baseline
    frontcuts.ITEMS.update({f"guardcuts_{name}": made for name, made in ITEMS.items()})
    print(f"load average {os.getloadavg()[0]:.2f}; µs per call, best of {args.repeats} x {args.batch}")
    for name in args.items:
        uvloop.run(frontcuts.compare(f"guardcuts_{name}", args.repeats, args.batch))


if __name__ == "__main__":
    main()
