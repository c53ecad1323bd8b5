"""CPU of one request through the front door's middleware chain, six layers against one (interleaved).

Both applications have the same route (a handler answering a small JSON body, as a proxied call's
answer would be), the same ``Security.guard`` with a live session and access-key rate limits on (in
memory, as ``BatchedLimiter`` decides), the same request metrics; the request log line is built and
written to a discarded stream through the processes' own logging set-up.  ``layered`` is main's
chain before this change (request log, Host check, target check, errors, error pages, guard: one
``@web.middleware`` each, as they were written), ``merged`` is ``frontdoor.request_chain``.

Each figure: ``time.process_time`` over a batch of ``Application._handle`` calls (aiohttp's routing
and its per-application layer included), requests made beforehand, the garbage collector off during
a batch (the mocked requests would make its passes the noise); best of ``--repeats`` batches,
the two variants alternated batch by batch in one process.

Usage: .venv/bin/python -m bench.request_chain [--batch 2000] [--repeats 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import logging
import os
import sys
import time
from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from contract.config import parse_config
from contract.hosts import HostPolicy
from contract.redis_layout import SessionRecord
from frontdoor.context import SESSION
from frontdoor.error_pages import error_page_middleware
from frontdoor.host_check import host_refusal
from frontdoor.middlewares import error_answer
from frontdoor.observability import REQUEST_METRICS, RequestMetrics
from frontdoor.ratelimit_batched import BatchedLimiter
from frontdoor.request_chain import RequestChain, request_log_middleware
from frontdoor.request_target import target_refusal
from frontdoor.security import Security
from frontdoor.trusted_proxies import TrustedProxies
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import setup_logging

HOST = "webui.example.com"
PATH = "/func/session/abc/logs?owner_access_key=AKIA"
HEADERS = {
    "Host": HOST,
    "Cookie": "webui_session=s3ss10n",
    "Accept": "application/json",
    "X-BackendAI-Version": "v8.20240915",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) bench",
}
RECORD = SessionRecord("u@example.com", "AKIA", "user", "active", time.time(), time.time(), time.time() + 3600)


class NoSharedCounts:
    """The shared counters as Redis answers for a key nobody counted yet (asked once per key)."""

    async def mget(self, *keys):
        return [None] * len(keys)


def layered(hosts: HostPolicy, guard) -> list:
    """Main's six layers before the merge (the request log layer is now the chain without checks, the same steps)."""

    @web.middleware
    async def host_check(request, handler):
        refused = host_refusal(hosts, request)
        return await handler(request) if refused is None else refused

    @web.middleware
    async def own_targets_only(request, handler):
        refused = target_refusal(request)
        return await handler(request) if refused is None else refused

    @web.middleware
    async def error_middleware(request, handler):
        try:
            return await handler(request)
        except Exception as exc:
            return error_answer(request, exc)

    return [request_log_middleware, host_check, own_targets_only, error_middleware, error_page_middleware, guard]


def build(variant: str) -> web.Application:
    config = parse_config(
        {"service": {"public_hosts": [HOST]}, "security": {"rate_limit": {"enabled": True, "requests": 10**9}}}
    )

    def known_session(request):  # as FrontDoor.known_session when memory vouches for the session
        if SESSION not in request:
            request[SESSION] = RECORD
        return request[SESSION]

    async def session(request):  # as FrontDoor.session: looked up once, then kept on the request
        return known_session(request)

    front = SimpleNamespace(
        config=config, trusted_proxies=TrustedProxies([]), session=session, known_session=known_session
    )
    keys = BatchedLimiter(NoSharedCounts(), config.security.rate_limit.window, config.security.rate_limit.sync_interval)
    security = Security(front, logins=None, keys=keys, password_checks=None)
    hosts = HostPolicy.for_config(config)
    chains = {
        "bare": [],
        "layered": layered(hosts, security.guard),
        "merged": [RequestChain(hosts, security.guard).handle],
    }
    app = web.Application(middlewares=chains[variant])
    app[REQUEST_METRICS] = RequestMetrics(Instruments())

    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(0)  # one suspension, as a proxied call has several
        return web.json_response({"ok": True})

    app.router.add_route("*", "/func/{path:.*}", answer)
    app.freeze()
    return app


async def batch_cpu(app: web.Application, size: int) -> float:
    requests = [make_mocked_request("GET", PATH, headers=HEADERS, app=app) for _ in range(size)]
    gc.collect()
    gc.disable()  # the mocked requests made beforehand would make the collector's passes the noise
    try:
        started = time.process_time()
        for request in requests:
            response = await app._handle(request)
            assert response.status == 200, response.status
        return (time.process_time() - started) / size * 1e6
    finally:
        gc.enable()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="layered,merged", help="of bare (no middleware), layered, merged")
    args = parser.parse_args()
    stderr, sys.stderr = sys.stderr, io.StringIO()
    setup_logging("frontdoor")  # the processes' own handler and formatter, writing to a discarded stream
    sys.stderr = stderr
    logging.getLogger("frontdoor.requests").setLevel(logging.INFO)
    apps = {variant: build(variant) for variant in args.variants.split(",")}
    print(f"load average {os.getloadavg()[0]:.2f}; µs of CPU per request, best of {args.repeats} x {args.batch}")
    for _ in range(args.rounds):
        best = {variant: float("inf") for variant in apps}
        for _ in range(args.repeats):
            for variant, app in apps.items():
                best[variant] = min(best[variant], await batch_cpu(app, args.batch))
            _discard_lines()
        print("  ".join(f"{variant} {cpu:.2f}" for variant, cpu in best.items()), f"load {os.getloadavg()[0]:.2f}")


def _discard_lines() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
        stream = getattr(handler, "stream", None)
        if isinstance(stream, io.StringIO):
            stream.seek(0)
            stream.truncate()


if __name__ == "__main__":
    asyncio.run(main())
