"""Interleaved micro-benchmarks of the eighth session's front-door cuts (``frontcuts``), old against new.

Each item times the code a proxied request runs before the change (kept here as it was, or main's
function where it still exists) and after it, in one process, the two alternated batch by batch;
a figure is the best of ``--repeats`` batches of ``time.process_time``, in µs per call, with the
garbage collector off during a batch.

Items that compare whole modules load main's (``--baseline``, a worktree of main) beside this checkout's.

Usage: .venv/bin/python -m bench.frontcuts [--repeats 15] [--batch 20000] [--baseline /work/main] [ITEM ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import io
import logging
import secrets
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from frontdoor.observability import new_request_id
from frontdoor.security_headers import _RequestWithoutServerHeader

BASELINE = Path("/work/main")
ITEMS: dict[str, Callable[[], tuple[Callable[[], object], Callable[[], object]]]] = {}


def item(function):
    ITEMS[function.__name__] = function
    return function


@item
def absent_key():
    """``request.get`` of a key the request does not hold (a trace id when not tracing, ...)."""
    key = web.RequestKey("absent", str)
    old = make_mocked_request("GET", "/func/x")
    new = make_mocked_request("GET", "/func/x")
    new.__class__ = _RequestWithoutServerHeader  # the same layout: a subclass adding methods only
    return (lambda: old.get(key)), (lambda: new.get(key))


@item
def request_id():
    """A request's id when the client sent none."""
    return (lambda: secrets.token_hex(8)), new_request_id


@item
def metrics():
    """A request's two samples (count, duration) in buffered values, as the front door records them."""
    import os
    import tempfile

    from prometheus_client import CollectorRegistry, Counter, Histogram, values

    from contract import instruments as spec
    from service_runtime.metric_values import ValueBuffer, buffered_value_class, count_and_observe

    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp())
    values.ValueClass = buffered_value_class("bench-0", ValueBuffer())
    registry = CollectorRegistry()
    labels = ("GET", "/api/func/{path}", "", "", "", "200")
    counter = Counter("c", "c", spec.API_DURATION.labels, registry=registry).labels(*labels)
    histogram = Histogram("h", "h", spec.API_DURATION.labels, registry=registry, buckets=spec.API_DURATION.buckets)
    histogram = histogram.labels(*labels)
    record = count_and_observe(counter, histogram)

    def old():
        counter.inc()
        histogram.observe(0.0031)

    return old, (lambda: record(0.0031))


def load_baseline(name: str, relative: str, replacing: dict[str, ModuleType] | None = None) -> ModuleType:
    """The baseline's module at ``relative``, its imports of ``replacing``'s names given those modules."""
    saved = {module: sys.modules.get(module) for module in replacing or {}}
    sys.modules.update(replacing or {})
    try:
        spec = importlib.util.spec_from_file_location(name, BASELINE / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        for module, was in saved.items():
            if was is None:
                sys.modules.pop(module, None)
            else:
                sys.modules[module] = was


@item
def request_line():
    """The request line from the chain's fields to the batched handler's buffer (``LineLogger.info``)."""
    from service_runtime import jsonlog, linelog

    old_jsonlog = load_baseline("baseline_jsonlog", "service_runtime/jsonlog.py")
    old_linelog = load_baseline(
        "baseline_linelog", "service_runtime/linelog.py", {"service_runtime.jsonlog": old_jsonlog}
    )
    logging._srcfile = None  # as setup_logging sets the logging module up
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root, log = logging.getLogger(), logging.getLogger("frontdoor.requests")
    root.setLevel(logging.INFO)

    def handler(module: ModuleType) -> logging.Handler:
        made = module.BatchedStreamHandler(io.StringIO())
        made.addFilter(module.scrub_request_bytes)
        made.setFormatter(module.JsonFormatter("frontdoor-0"))
        made.stream.write = lambda text: len(text)  # discarded, as fast for both
        return made

    old_handler, new_handler = handler(old_jsonlog), handler(jsonlog)
    old_lines, new_lines = old_linelog.LineLogger(log), linelog.LineLogger(log)
    fields = {
        "event": "proxy_request",
        "request_id": "0123456789abcdef",
        "method": "GET",
        "path": "/func/session/abc/logs",
        "status": "success",
        "status_code": 200,
        "user_id": "u@example.com",
        "duration_ms": 1.23,
    }

    def old():
        root.handlers = [old_handler]
        old_lines.info("request", fields)

    def new():
        root.handlers = [new_handler]
        new_lines.info("request", fields)

    return old, new


@item
def session_cookie():
    """The session cookie's value and hash of a request on a kept-alive connection (the memo hits)."""
    from contract.redis_layout import session_hash
    from frontdoor.cookie_memo import CookieMemo

    old_memo = load_baseline("baseline_cookie_memo", "frontdoor/cookie_memo.py").CookieMemo()
    new_memo = CookieMemo()

    class Transport:  # weakly referable, as uvloop's TCP transport is
        def get_extra_info(self, name, default=None):
            return default

    cookie = "lang=en; webui_session=s3ss10n-0123456789abcdef0123456789abcdef; theme=dark"
    request = make_mocked_request("GET", "/func/x", headers={"Cookie": cookie}, transport=Transport())

    def old():
        return session_hash(old_memo.value(request, "webui_session"))

    return old, (lambda: new_memo.value_with(request, "webui_session", session_hash))


@item
def login_limit_rule():
    """Whether a proxied call under /func/ is limited like a login (a signed call: it is not)."""
    from frontdoor import special_routes

    old_rules = load_baseline("baseline_special_routes", "frontdoor/special_routes.py")
    path = "/func/session/abc/logs"
    return (lambda: old_rules.limited_like_login("GET", path, False)), (
        lambda: special_routes.limited_like_login("GET", path, False)
    )


@item
def key_limit():
    """An access key's request admitted in memory (``BatchedLimiter.check``) and its verdict's headers
    set on an answer's headers, as ``finish_headers`` sets them."""
    from multidict import CIMultiDict

    from frontdoor import ratelimit_batched

    old_ratelimit = load_baseline("baseline_ratelimit", "frontdoor/ratelimit.py")
    old_batched = load_baseline(
        "baseline_ratelimit_batched", "frontdoor/ratelimit_batched.py", {"frontdoor.ratelimit": old_ratelimit}
    )
    old_limiter = old_batched.BatchedLimiter(None, 60, 0.1)
    new_limiter = ratelimit_batched.BatchedLimiter(None, 60, 0.1)
    headers = CIMultiDict()

    def old():
        headers.update(old_limiter.check("AKIA", 1_000_000_000).headers())

    def new():
        headers.update(new_limiter.check("AKIA", 1_000_000_000).headers())

    return old, new


@item
def finish_headers():
    """``Security.finish_headers`` on a proxied answer (an API path with a rate-limit verdict)."""
    from types import SimpleNamespace

    from multidict import CIMultiDict

    from contract.config import parse_config
    from frontdoor import cors, security
    from frontdoor.observability import REQUEST_ID_KEY
    from frontdoor.ratelimit import Verdict
    from frontdoor.trusted_proxies import TrustedProxies

    old_cors = load_baseline("baseline_cors", "frontdoor/cors.py")
    old_security = load_baseline("baseline_security", "frontdoor/security.py", {"frontdoor.cors": old_cors})
    front = SimpleNamespace(config=parse_config({}), trusted_proxies=TrustedProxies())
    olds, news = old_security.Security(front, None, None, None), security.Security(front, None, None, None)
    request = make_mocked_request("GET", "/func/session/abc/logs", headers={"Host": "webui.example.com"})
    request.__class__ = _RequestWithoutServerHeader
    request[REQUEST_ID_KEY] = "0123456789abcdef"
    request[security.RATE_LIMIT] = request[old_security.RATE_LIMIT] = Verdict(True, 1000, 990, 60)  # (two keys)
    answer = web.Response(status=200, body=b"{}")
    upstream = CIMultiDict(
        {
            "Content-Type": "application/json; charset=utf-8",
            "Date": "Mon, 30 Nov 2026 03:00:00 GMT",
            "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "X-Request-ID": "0123456789abcdef",
        }
    )
    loop = asyncio.get_event_loop()
    assert cors  # (this checkout's, which ``security`` uses)

    def run(guarding) -> None:
        answer.headers.clear()
        answer.headers.extend(upstream)
        coroutine = guarding.finish_headers(request, answer)  # a coroutine on main before the ninth session
        if coroutine is not None:
            try:
                coroutine.send(None)  # it awaits nothing: done at the first step
            except StopIteration:
                pass

    del loop
    return (lambda: run(olds)), (lambda: run(news))


@item
async def client_peer():
    """The peer's address of a request on a kept-alive connection (``FrontDoor.client_ip``'s input),
    over a real uvloop TCP transport."""
    import socket

    from frontdoor import context

    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    accepted, _address = listener.accept()
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, accepted)
    request = make_mocked_request("GET", "/func/x", transport=transport)
    kept_open = (listener, client)  # the connection stays up for the run (the closure holds it)

    def old():
        assert kept_open
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return peer[0] if peer else None

    return old, (lambda: context._peer(request))


def best_of(call: Callable[[], object], batch: int) -> float:
    gc.disable()
    try:
        started = time.process_time()
        for _ in range(batch):
            call()
        return (time.process_time() - started) / batch * 1e6
    finally:
        gc.enable()


async def compare(name: str, repeats: int, batch: int) -> None:
    """In a running uvloop, as the front door's code runs (the log handler's timer, ...)."""
    made = ITEMS[name]()
    old, new = (await made) if asyncio.iscoroutine(made) else made
    olds, news = [], []
    for _ in range(repeats):
        olds.append(best_of(old, batch))
        news.append(best_of(new, batch))
        await asyncio.sleep(0)
    print(f"{name:24} old {min(olds):7.3f} µs   new {min(news):7.3f} µs   ({min(olds) - min(news):+.3f})")


def main() -> None:
    global BASELINE
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"))
    parser.add_argument("items", nargs="*", default=list(ITEMS))
    args = parser.parse_args()
    BASELINE = args.baseline
    for name in args.items:
        uvloop.run(compare(name, args.repeats, args.batch))  # the front door's loop


if __name__ == "__main__":
    main()
