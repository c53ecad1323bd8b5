"""Response headers that protect our pages, and the removal of aiohttp's ``Server`` header.

``page_headers`` and ``hsts_header`` are plain functions; ``security.py`` applies them as each
response is prepared (``Security.finish_headers``, called by the hook below).  Pages rendered by us read the per-request nonce from
``request[CSP_NONCE]`` and put it on their inline ``<script>``/``<style>`` tags.

aiohttp sets ``Server: Python/x aiohttp/y`` on every response while preparing it, including the
400 it writes itself for a request it cannot parse, which no route, middleware or signal sees.  The
one hook every response passes after that, just before the status line is written, is the
request's ``_prepare_hook``; ``without_server_header`` makes the application build its requests
from a subclass whose hook drops the header there.  Given ``finish`` (``Security.finish_headers``),
the same hook calls it for every routed response, a plain call where ``on_response_prepare`` would
dispatch a coroutine per hook through aiosignal (the signal still runs whatever else is on it).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable

from aiohttp import hdrs, web

from frontdoor.upstream import PROXIED_POLICY

CSP_NONCE = web.RequestKey("csp_nonce", str)  # this request's nonce, drawn by the security middleware

NONCE_BYTES = 16
# For anything of ours that is not a page (JSON, problem documents, files): nothing may run or load.
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def is_html(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("text/html", "application/xhtml+xml")


def page_headers(content_type: str | None, nonce: str, page_policy: str, proxied: bool) -> dict[str, str]:
    """Headers for one response; anything on a proxied path is sandboxed (``PROXIED_POLICY``)."""
    headers = dict(COMMON_HEADERS)
    if proxied:
        headers["Content-Security-Policy"] = PROXIED_POLICY
        return headers
    if is_html(content_type):
        headers["Content-Security-Policy"] = page_policy.replace("{nonce}", nonce)
    else:
        headers["Content-Security-Policy"] = NON_PAGE_POLICY
    return headers


def hsts_header(secure: bool, max_age: int) -> dict[str, str]:
    """HSTS only over HTTPS (RFC 6797 §7.2: a plain-HTTP answer must not carry it)."""
    if not secure or max_age <= 0:
        return {}
    return {"Strict-Transport-Security": f"max-age={max_age}"}


@functools.lru_cache(maxsize=16)
def proxied_answer_headers(secure: bool, hsts_max_age: int, own_policy: bool = False) -> tuple[tuple[str, str], ...]:
    """What every proxied answer gets (``page_headers`` of a proxied path, then ``hsts_header``), built
    once per pair: a reload of ``hsts_max_age`` asks for another pair.  A tuple: shared, never changed.
    ``own_policy``: the answer has its own ``Content-Security-Policy``, which stands (none in the pairs)."""
    pairs = (*page_headers(None, "", "", proxied=True).items(), *hsts_header(secure, hsts_max_age).items())
    return without_policy(pairs) if own_policy else pairs


@functools.lru_cache(maxsize=16)
def relayed_answer_headers(secure: bool, hsts_max_age: int) -> tuple[tuple[str, str], ...]:
    """``proxied_answer_headers`` less what ``downstream_headers`` set already (our sandbox policy and
    ``nosniff``): what a ``RelayedAnswer`` still gets, in the same order."""
    return tuple(pair for pair in proxied_answer_headers(secure, hsts_max_age) if pair[0] not in RELAY_SETS)


RELAY_SETS = frozenset({"Content-Security-Policy", "X-Content-Type-Options"})


class RelayedAnswer(web.Response):
    """A proxied answer whose headers are ``frontdoor.upstream.downstream_headers``'s: no
    ``Access-Control-*``, our sandbox policy and ``nosniff`` set.  The security hook skips that work
    for it; nothing between the relay and the hook adds those headers (the request chain sets the
    request id, aiohttp ``Content-Length``, ``Content-Type``, ``Date``, ``Server``, ``Connection``)."""


class RelayedStream(web.StreamResponse):
    """``RelayedAnswer``'s rule for an answer relayed chunk by chunk."""


RELAYED = frozenset({RelayedAnswer, RelayedStream})  # exactly these classes (``type(x) in``: no subclass check)


def without_policy(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple(pair for pair in pairs if pair[0] != "Content-Security-Policy")


class _RequestWithoutServerHeader(web.Request):
    # ``request.get(key)`` and ``key in request`` come from ``Mapping``, which looks the key up with
    # ``self[key]`` and catches the ``KeyError`` of an absent one (~0.5 µs each; a proxied request asks
    # for absent keys several times: its session before it is read, a trace id when not tracing, ...).
    # The request's storage is its ``_state`` dict (what ``__getitem__`` reads): asked directly.
    def get(self, key, default=None):
        return self._state.get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._state

    # Called for every routed response just before its head is written (``without_server_header``).
    _finishing: Callable[[web.Request, web.StreamResponse], None] | None = None

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        # (``match_info`` asserts it is set: read as aiohttp's own hook reads it; a rename fails every test)
        match_info = self._match_info
        if match_info is not None:  # routed, a 404/405 too (None: the parser's own 400, no hook then)
            if self._finishing is not None:
                self._finishing(self, response)
            for app in match_info.apps:  # aiohttp's own hook, inlined: no coroutine when nothing is on it
                if app.on_response_prepare:
                    await app.on_response_prepare.send(self, response)
        response.headers.popall(hdrs.SERVER, None)


def without_server_header(
    app: web.Application, finish: Callable[[web.Request, web.StreamResponse], None] | None = None
) -> None:
    """Every response of ``app``, routed or written by the parser itself, goes out with no ``Server``;
    every routed one passes ``finish`` first (before any ``on_response_prepare`` hook)."""
    request_class = _RequestWithoutServerHeader
    if finish is not None:
        request_class = type("_FinishedRequest", (_RequestWithoutServerHeader,), {"_finishing": staticmethod(finish)})
    app._make_request = functools.partial(app._make_request, _cls=request_class)
