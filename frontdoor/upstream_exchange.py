"""One attempt at an upstream endpoint: the request goes out with our headers and its signature, the
answer comes back inert as our origin (``frontdoor.upstream.downstream_headers``).

The request body is passed on as it arrives; a small answer with a ``Content-Length`` (most API
answers) is read whole and written with its headers at once, any other is relayed chunk by chunk, so
uploads, downloads and server-sent events cost the front door O(1) memory.  With ``[otel]`` on, each
attempt is a client span whose ``traceparent`` goes upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from contract.webapi import MANAGER_DEPLOYMENT, Deployment
from frontdoor import problems
from frontdoor.context import FrontDoor
from frontdoor.encoded_body import decoded_body
from frontdoor.lean_client import ConnectTimeout, LeanClient, NotConnected, fields_wire, lean_client_serves
from frontdoor.observability import REQUEST_ID_KEY
from frontdoor.security_headers import RelayedAnswer, RelayedStream
from frontdoor.upstream import (
    CookieRules,
    Fields,
    UpstreamTarget,
    cookie_rules,
    downstream_headers,
    upstream_fields,
    with_signature,
)
from frontdoor.upstream_wire import AnswerLate, ConnectionLost, MalformedAnswer, UpstreamConnection
from service_runtime.instruments import Labelled
from service_runtime.tracing import http_method

log = logging.getLogger(__name__)
SMALL_BODY = 64 * 1024  # bounded, so memory stays O(1) per request either way
NOT_CONNECTED = web.Response(status=502)  # a marker: this endpoint could not be connected to; try another
# Safe to send again elsewhere when the connection broke (RFC 9110 idempotent methods, and no body that
# was already streamed away).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
API_VERSION = web.RequestKey("api_version", str)  # the API version this request is signed and sent with
# Only the browser's Accept and Accept-Encoding go upstream, never aiohttp's defaults: given to the
# proxied requests' client once (frontdoor.app), not per request (a set of istr built per call).
PROXIED_SKIP_AUTO_HEADERS = ("Accept-Encoding", "Accept")


class UpstreamExchange:
    def __init__(self, front: FrontDoor):
        self._front = front
        self._upstream_errors = front.instruments.upstream_errors
        self._lean = None if front.lean_http is None else LeanExchange(front.lean_http, self._upstream_errors)

    def fix_api_version(self, request: web.Request) -> None:
        """Read once per request: the version sent must be the one signed, even if a reload changes
        ``api.default_version`` while the signer works (the Manager would refuse the signature)."""
        request[API_VERSION] = request.headers.get("X-BackendAI-Version") or self._front.config.api.default_version

    def api_version(self, request: web.Request) -> str:
        """The version ``fix_api_version`` read (read now if it was not: no test for absence, which raises
        inside a mapping's ``in`` and costs more than the read, on the proxy's path)."""
        try:
            return request[API_VERSION]
        except KeyError:
            self.fix_api_version(request)
            return request[API_VERSION]

    def cookie_rules(self, deployment: Deployment) -> CookieRules:
        """Read at each use: a reload of the cookie names applies to the next request."""
        config = self._front.config
        return cookie_rules(
            config.session.cookie_name,
            config.api.auth_token_name,
            deployment.route_prefix,
            deployment.name == MANAGER_DEPLOYMENT,  # manager (positional: lru_cache's cheaper key)
        )

    def prework(self, request: web.Request, target: UpstreamTarget, deployment: Deployment) -> Prework:
        """What goes upstream for one attempt, an HTTP request or a WebSocket handshake alike."""
        return Prework(self, request, target, deployment)

    def unsigned_fields(self, request: web.Request, target: UpstreamTarget, cookies: CookieRules) -> Fields:
        """``upstream_headers``' fields up to, not including, the trace context and the signature."""
        front = self._front
        return upstream_fields(
            request.headers,
            api_version=self.api_version(request),
            domain=front.config.api.domain,
            host=target.host,
            client_ip=front.client_ip(request),
            scheme=request.scheme,
            withheld_cookies=cookies.withheld,
            request_id=request.get(REQUEST_ID_KEY, ""),
        )

    def forward(
        self,
        request: web.Request,
        target: UpstreamTarget,
        signed: dict[str, str],
        deployment: Deployment,
        prework: Prework | None = None,
    ) -> Awaitable[web.StreamResponse]:
        """The attempt's answer, to await; ``prework``: this attempt's, perhaps made while the signer
        worked.  (Not a coroutine itself: with tracing off the lean client's exchange, or the aiohttp
        attempt's, is returned, one frame less to pass through at each of the attempt's resumptions.)"""
        prework = prework or self.prework(request, target, deployment)
        if not self._front.tracing.enabled:
            return self._attempt(request, target, signed, deployment, None, prework)
        return self._traced(request, target, signed, deployment, prework)

    def _attempt(
        self,
        request: web.Request,
        target: UpstreamTarget,
        signed: dict[str, str],
        deployment: Deployment,
        trace,
        prework: Prework,
    ) -> Awaitable[web.StreamResponse]:
        """The lean client's exchange when it serves the request (no body to stream, plain HTTP), else
        the aiohttp client's, to await."""
        decoded = decoded_body(request)  # an X-BackendAI-Encoded body, read and decoded already
        has_body = request.body_exists and decoded is None
        if self._lean is None or not lean_client_serves(
            request.method, body_to_stream=has_body, websocket=False, scheme=target.scheme
        ):
            return self._exchange(request, target, signed, deployment, trace, prework, decoded)
        fields = prework.fields(signed, trace)
        return self._lean.exchange(request, target, fields, decoded or b"", prework.cookies, deployment)

    async def _traced(
        self, request: web.Request, target: UpstreamTarget, signed: dict[str, str], deployment: Deployment, prework
    ) -> web.StreamResponse:
        tracing = self._front.tracing
        method = http_method(request.method)
        attributes = {
            "http.request.method": method,
            "server.address": target.url.host or "",
            "server.port": target.url.port or 0,
            "webui_host.deployment": deployment.name,
        }
        with tracing.client_span(f"{method} {deployment.name}", attributes) as span:
            trace = tracing.propagation_headers()
            answer = await self._attempt(request, target, signed, deployment, trace, prework)
            if answer is NOT_CONNECTED:
                tracing.error(span, "unreachable")
            else:
                tracing.http_status(span, answer.status, server=False)
            return answer

    async def _exchange(
        self,
        request: web.Request,
        target: UpstreamTarget,
        signed: dict[str, str],
        deployment: Deployment,
        trace,
        prework: Prework,
        decoded: bytes | None,
    ) -> web.StreamResponse:
        """An attempt through aiohttp's client (a body to stream, TLS, or no lean client); ``decoded``:
        the X-BackendAI-Encoded body, read and decoded already, as ``_attempt`` found it."""
        has_body = request.body_exists and decoded is None
        loop = asyncio.get_running_loop()
        answer_within = deployment.response_timeout
        try:
            # The Manager's time to answer counts from the end of the request body: without one it
            # starts now (a deadline given at entry costs half of one rescheduled later).
            async with asyncio.timeout_at(None if has_body else loop.time() + answer_within) as deadline:
                body = decoded
                if has_body:
                    body = _relay_body(request, lambda: deadline.reschedule(loop.time() + answer_within))
                upstream = await self._front.http.request(
                    request.method,
                    target.url,  # its raw_path_qs is what was signed
                    headers=prework.headers(signed, trace),
                    data=body,
                    allow_redirects=False,  # (Accept, Accept-Encoding: only the browser's, see app.py)
                )
        except TimeoutError:
            if deadline.expired():
                self._upstream_errors.labels("response_timeout").inc()
                return problems.gateway_timeout()
            self._upstream_errors.labels("connect_timeout").inc()
            return NOT_CONNECTED
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing of the request was sent
            self._upstream_errors.labels("unreachable").inc()
            log.warning(
                "upstream endpoint unreachable",
                extra={"event": "upstream_error", "error": type(exc).__name__, "endpoint": str(target.url.origin())},
            )
            return NOT_CONNECTED
        except aiohttp.ClientConnectionError as exc:
            self._upstream_errors.labels("unreachable").inc()
            log.warning(
                "upstream connection broke",
                extra={"event": "upstream_error", "error": type(exc).__name__, "endpoint": str(target.url.origin())},
            )
            if request.method in IDEMPOTENT_METHODS and not request.body_exists:
                return NOT_CONNECTED  # e.g. the Manager was killed mid-request: another one may answer
            return problems.bad_gateway()
        try:
            headers = self._answer_headers(upstream, deployment)
            return await _relay_response(request, upstream, headers, self._upstream_errors)
        finally:
            upstream.release()

    def _answer_headers(self, upstream: aiohttp.ClientResponse, deployment: Deployment):
        return downstream_headers(upstream.headers, cookies=self.cookie_rules(deployment))


class Prework:
    """One attempt's upstream headers but its trace context and signature: made by ``run`` while the
    signer works on the request (the signing hop calls it once the request is out), else by
    ``fields``/``headers`` when the signature is there.  Used once."""

    __slots__ = ("_exchange", "_request", "_target", "_deployment", "cookies", "_fields")

    def __init__(self, exchange: UpstreamExchange, request: web.Request, target: UpstreamTarget, deployment):
        self._exchange, self._request, self._target, self._deployment = exchange, request, target, deployment
        self.cookies: CookieRules | None = None
        self._fields: Fields | None = None

    def run(self) -> None:
        if self._fields is None:
            self.cookies = self._exchange.cookie_rules(self._deployment)
            self._fields = self._exchange.unsigned_fields(self._request, self._target, self.cookies)

    def fields(self, signed: dict[str, str], trace=None) -> Fields:
        """The fields as ``upstream_headers`` makes them, signature last (replacing in place a header
        of the same name), then the decoded body's ``Content-Length``: what the lean client writes."""
        self.run()
        fields = with_signature(self._fields, signed, trace)
        decoded = decoded_body(self._request)
        if decoded is not None:  # the browser's Content-Length was the encoded body's
            fields["content-length"] = ("Content-Length", str(len(decoded)))
        return fields

    def headers(self, signed: dict[str, str], trace=None) -> CIMultiDict[str]:
        """``fields`` as a CIMultiDict: for aiohttp's client and the WebSocket handshake."""
        return CIMultiDict(self.fields(signed, trace).values())


async def _relay_body(request: web.Request, on_done):
    try:
        async for chunk in request.content.iter_any():
            yield chunk
    finally:
        on_done()


async def _relay_response(
    request: web.Request, upstream: aiohttp.ClientResponse, headers, errors: Labelled
) -> web.StreamResponse:
    if upstream.content_length is not None and upstream.content_length <= SMALL_BODY:
        # Small, sized bodies (most API answers) go out with their headers in one write.
        body = await upstream.read()
        return RelayedAnswer(status=upstream.status, reason=upstream.reason, body=body, headers=headers)
    response = RelayedStream(status=upstream.status, reason=upstream.reason, headers=headers)
    await response.prepare(request)
    started = time.monotonic()
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        # Headers are gone already: all we can do is cut the connection so the browser sees it fail.
        errors.labels("broken_body").inc()
        log.warning(
            "upstream broke off mid-body",
            extra={
                "event": "upstream_error",
                "error": type(exc).__name__,
                "after_s": round(time.monotonic() - started, 3),
            },
        )
        cut_off(request, response)
        return response
    await response.write_eof()
    return response


def cut_off(request: web.Request, response: web.StreamResponse) -> None:
    """End a relayed answer whose upstream broke off after its headers went out: abort the browser's
    connection.  Returning it as it is would let aiohttp's ``write_eof`` end a chunked body with its
    last chunk, and the browser would take a truncated answer for a whole one."""
    response.force_close()
    if request.transport is not None:
        request.transport.abort()


class LeanExchange:
    """An attempt through the lean client (``frontdoor.lean_client``): the same answers, errors, metrics
    and log lines as the aiohttp attempt above, for requests without a body to stream."""

    def __init__(self, client: LeanClient, errors: Labelled):
        self._client = client
        self._upstream_errors = errors

    async def exchange(
        self,
        request: web.Request,
        target: UpstreamTarget,
        fields: Fields,
        body: bytes,
        cookies: CookieRules,
        deployment: Deployment,
    ) -> web.StreamResponse:
        """``body``: what the front door holds in memory (a decoded ``X-BackendAI-Encoded`` body) or b"";
        ``fields``: ``Prework.fields`` (given up to the request's bytes)."""
        deadline = self._client.now() + deployment.response_timeout
        method = request.method
        try:
            wire = fields_wire(method, target.target, fields, body)
            connection = await self._client.send_wire(target.endpoint, method, wire, deadline=deadline)
        except AnswerLate:
            self._upstream_errors.labels("response_timeout").inc()
            return problems.gateway_timeout()
        except ConnectTimeout:
            self._upstream_errors.labels("connect_timeout").inc()
            return NOT_CONNECTED
        except NotConnected as exc:  # nothing of the request was sent
            self._broke("unreachable", "upstream endpoint unreachable", exc, target)
            return NOT_CONNECTED
        except MalformedAnswer as exc:  # not retried: the upstream may have acted on the request
            self._broke("malformed_answer", "upstream answer refused", exc, target)
            return problems.bad_gateway()
        except ConnectionLost as exc:
            self._broke("unreachable", "upstream connection broke", exc, target)
            if request.method in IDEMPOTENT_METHODS and not request.body_exists:  # the aiohttp attempt's rule
                return NOT_CONNECTED
            return problems.bad_gateway()
        try:
            headers = downstream_headers(connection.headers, cookies=cookies)
            length = connection.length
            body = connection.arrived_body() if length is not None and length <= SMALL_BODY else None
            if body is not None:  # (nearly every API answer: no coroutine to read what is there)
                return RelayedAnswer(status=connection.status, reason=connection.reason, body=body, headers=headers)
            return await self._relay(request, connection, headers, target)
        finally:
            self._client.release(connection, target.endpoint)

    async def _relay(
        self, request: web.Request, connection: UpstreamConnection, headers, target: UpstreamTarget
    ) -> web.StreamResponse:
        length = connection.length
        if length is not None and length <= SMALL_BODY:
            # Small, sized bodies (most API answers) go out with their headers in one write.
            try:
                body = await connection.read()
            except (MalformedAnswer, ConnectionLost) as exc:  # nothing sent to the browser yet
                self._broke("broken_body", "upstream broke off mid-body", exc, target)
                return problems.bad_gateway()
            return RelayedAnswer(status=connection.status, reason=connection.reason, body=body, headers=headers)
        response = RelayedStream(status=connection.status, reason=connection.reason, headers=headers)
        await response.prepare(request)
        try:
            async for chunk in connection.chunks():
                await response.write(chunk)
        except (MalformedAnswer, ConnectionLost) as exc:
            # Headers are gone already: all we can do is cut the connection so the browser sees it fail.
            self._broke("broken_body", "upstream broke off mid-body", exc, target)
            cut_off(request, response)
            return response
        await response.write_eof()
        return response

    def _broke(self, kind: str, message: str, exc: Exception, target: UpstreamTarget) -> None:
        self._upstream_errors.labels(kind).inc()
        log.warning(
            message,
            extra={
                "event": "upstream_error",
                "error": type(exc).__name__,
                "reason": str(exc)[:200],  # ours (upstream_wire's words), never the upstream's bytes
                "endpoint": str(target.url.origin()),
            },
        )
