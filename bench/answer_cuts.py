"""Interleaved micro-benchmarks of the ninth session's cuts to the proxied answer (``answer``), old
against new, with ``bench.frontcuts``'s harness: main's modules (``--baseline``, a worktree of main)
loaded beside this checkout's, the two alternated batch by batch in a running uvloop; a figure is the
best of ``--repeats`` batches of ``time.process_time``, µs per call, the garbage collector off.

Usage: .venv/bin/python -m bench.answer_cuts [--repeats 15] [--batch 20000] [--baseline /work/main] [ITEM ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from bench import frontcuts
from bench.frontcuts import item, load_baseline

# The benchmark's answer from the Manager (bench/fast_upstream.py's public version), as it arrives.
UPSTREAM = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Content-Length", "49"),
    ("Date", "Mon, 30 Nov 2026 01:00:00 GMT"),
    ("Server", "Python/3.11 aiohttp/3.14.5"),
)


def _security_pair():
    """main's ``security`` (with its ``security_headers`` and ``cors``) and this checkout's, one front each."""
    from contract.config import parse_config
    from frontdoor import security
    from frontdoor.trusted_proxies import TrustedProxies

    old_cors = load_baseline("baseline_cors", "frontdoor/cors.py")
    old_headers = load_baseline("baseline_security_headers", "frontdoor/security_headers.py")
    old_security = load_baseline(
        "baseline_security",
        "frontdoor/security.py",
        {"frontdoor.cors": old_cors, "frontdoor.security_headers": old_headers},
    )
    front = SimpleNamespace(config=parse_config({}), trusted_proxies=TrustedProxies())
    return (old_security, old_headers), security, front


def _request_of(app: web.Application, request_class: type):
    from frontdoor.observability import REQUEST_ID_KEY
    from frontdoor.ratelimit import Verdict

    request = make_mocked_request("GET", "/func/session/abc/logs", headers={"Host": "webui.example.com"}, app=app)
    request.__class__ = request_class  # the same layout: subclasses adding methods only
    request[REQUEST_ID_KEY] = "0123456789abcdef"
    return request, Verdict(True, 1000, 990, 60)


def _run_to_end(coroutine) -> None:
    try:
        coroutine.send(None)  # it awaits nothing: done at the first step
    except StopIteration:
        pass


@item
def prepare_hook():
    """The request's prepare hook on a proxied answer, from aiohttp's call to the headers finished:
    main's (on_response_prepare through aiosignal, then the Server header dropped) against a plain call."""
    from frontdoor import security_headers

    (old_security, old_headers), security, front = _security_pair()
    olds, news = old_security.Security(front, None, None, None), security.Security(front, None, None, None)
    old_app, new_app = web.Application(), web.Application()
    old_app.on_response_prepare.append(olds.finish_headers)
    old_app.freeze()
    new_app.freeze()
    old_request, verdict = _request_of(old_app, old_headers._RequestWithoutServerHeader)
    old_request[old_security.RATE_LIMIT] = verdict
    new_class = type("_FinishedRequest", (security_headers._RequestWithoutServerHeader,), {})
    new_class._finishing = staticmethod(news.finish_headers)
    new_request, _verdict = _request_of(new_app, new_class)
    new_request[security.RATE_LIMIT] = verdict
    answer = web.Response(status=200, body=b"{}")

    def run(request) -> None:
        answer.headers.clear()
        answer.headers.extend(UPSTREAM)
        _run_to_end(request._prepare_hook(answer))

    return (lambda: run(old_request)), (lambda: run(new_request))


@item
def relayed_answer():
    """A small proxied answer's headers from the upstream's head to the end of the prepare hook:
    ``downstream_headers``, the response built on them, the hook (main's: ``web.Response`` and the
    signal; this checkout's: ``RelayedAnswer`` and the plain call)."""
    from multidict import CIMultiDictProxy

    from frontdoor import security_headers, upstream

    (old_security, old_headers), security, front = _security_pair()
    old_upstream = load_baseline("baseline_upstream", "frontdoor/upstream.py")
    olds, news = old_security.Security(front, None, None, None), security.Security(front, None, None, None)
    old_app, new_app = web.Application(), web.Application()
    old_app.on_response_prepare.append(olds.finish_headers)
    old_app.freeze()
    new_app.freeze()
    old_request, verdict = _request_of(old_app, old_headers._RequestWithoutServerHeader)
    old_request[old_security.RATE_LIMIT] = verdict
    new_class = type("_FinishedRequest", (security_headers._RequestWithoutServerHeader,), {})
    new_class._finishing = staticmethod(news.finish_headers)
    new_request, _verdict = _request_of(new_app, new_class)
    new_request[security.RATE_LIMIT] = verdict
    arrived = CIMultiDictProxy(CIMultiDict(UPSTREAM))
    old_rules = old_upstream.cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    new_rules = upstream.cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    body = b'{"version": "v7.20230615", "manager": "23.09.10"}'

    def old() -> None:
        headers = old_upstream.downstream_headers(arrived, cookies=old_rules)
        _run_to_end(old_request._prepare_hook(web.Response(status=200, reason="OK", body=body, headers=headers)))

    def new() -> None:
        headers = upstream.downstream_headers(arrived, cookies=new_rules)
        answer = security_headers.RelayedAnswer(status=200, reason="OK", body=body, headers=headers)
        _run_to_end(new_request._prepare_hook(answer))

    return old, new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"))
    parser.add_argument("items", nargs="*", default=[name for name in frontcuts.ITEMS if name in ANSWER_ITEMS])
    args = parser.parse_args()
    frontcuts.BASELINE = args.baseline
    for name in args.items:
        uvloop.run(frontcuts.compare(name, args.repeats, args.batch))


ANSWER_ITEMS = ("prepare_hook", "relayed_answer")

if __name__ == "__main__":
    main()
