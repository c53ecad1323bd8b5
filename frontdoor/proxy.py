"""``/func/<path>`` -> Manager ``/<path>`` and ``/webapi/<deployment>/<path>`` -> that deployment's
upstream: signed by an agent of the deployment's group, bodies streamed both ways.

Each attempt at an endpoint is a ``frontdoor.upstream_exchange.UpstreamExchange``: bodies streamed both
ways, so uploads, downloads and server-sent events cost the front door O(1) memory.

Tracing (``[otel]`` enabled): a server span per proxied request (method, route template, deployment,
status, request id), a client span for the signing hop (its trace context travels in the signing item),
and a client span per upstream attempt (until its answer is relayed) whose ``traceparent`` goes upstream.
No span carries a path, a query, a cookie, a signature or a key; with tracing off no span is made.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from contract.redis_layout import SessionRecord
from contract.requests import SigningRequest
from contract.webapi import MANAGER_DEPLOYMENT, Deployment, SigningMode, may_call
from frontdoor import problems
from frontdoor.context import UNREAD, FrontDoor, caller_of, session_cookie_value
from frontdoor.encoded_body import carries_encoded_body, decode_proxied_body
from frontdoor.endpoint_probe import record
from frontdoor.observability import REQUEST_ID_KEY, TRACE_ID_KEY, USER_ID_KEY
from frontdoor.pipeline import PIPELINE_PREFIX, credential_login, pipeline_deployment, pipeline_headers
from frontdoor.signer_pool import NoSignerAvailable, SessionRejected, SigningRefused, StoreUnavailableAtSigner
from frontdoor.special_routes import TUS_HEADERS, Special, ping_answer, special_route
from frontdoor.upstream import (
    NotRouted,
    UnsafePath,
    UpstreamTarget,
    media_type,
    routed_rest,
    upstream_target,
)
from frontdoor.upstream_exchange import NOT_CONNECTED, UpstreamExchange
from frontdoor.websocket import WebSocketRelay, wants_websocket
from service_runtime.tracing import http_method

log = logging.getLogger(__name__)
FUNC_PREFIX = "/func"
WEBAPI_PREFIX = "/webapi/"
PING_VERSION = "webui-host/0.1.0"  # /func/ping names the web server, as Backend.AI's names its own
_NO_TRACE: dict[str, str] = {}  # [otel] off: no traceparent travels with the signing request


class DeploymentProxy:
    def __init__(self, front: FrontDoor, relay: WebSocketRelay):
        self._front = front
        self._relay = relay
        self._upstream = UpstreamExchange(front)

    def register(self, app: web.Application) -> None:
        app.router.add_route(
            "*", FUNC_PREFIX + "/{path:.*}", self._traced(self.handle_manager, FUNC_PREFIX + "/{path}")
        )
        app.router.add_route(
            "*",
            WEBAPI_PREFIX + "{deployment}/{path:.*}",
            self._traced(self.handle_deployment, WEBAPI_PREFIX + "{deployment}/{path}"),
        )
        app.router.add_route(
            "*", PIPELINE_PREFIX + "/{path:.*}", self._traced(self.handle_pipeline, PIPELINE_PREFIX + "/{path}")
        )

    def _traced(self, handler, route: str):
        """The handler inside a server span ([otel] on); the handler itself when tracing is off."""
        front = self._front
        tracing = front.tracing
        if not tracing.enabled:
            return handler

        async def traced(request: web.Request) -> web.StreamResponse:
            method = http_method(request.method)
            attributes = {
                "http.request.method": method,
                "http.route": route,
                "url.scheme": request.scheme,
                "webui_host.request_id": request.get(REQUEST_ID_KEY, ""),
            }
            carrier = request.headers if front.trusts_traceparent(request) else None
            with tracing.server_span(f"{method} {route}", attributes, carrier) as span:
                request[TRACE_ID_KEY] = tracing.trace_id(span)  # for the request's log line
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    tracing.http_status(span, exc.status, server=True)
                    raise
                tracing.http_status(span, response.status, server=True)
                return response

        return traced

    async def handle_manager(self, request: web.Request) -> web.StreamResponse:
        deployment = self._front.deployment(MANAGER_DEPLOYMENT)
        raw_rest = _routed(request, FUNC_PREFIX)
        if not isinstance(raw_rest, str):  # the answer refusing it (a Response: an ABC, dearer to test for)
            return raw_rest
        if request.method == "GET" and raw_rest.partition("?")[0] in ("", "/"):
            return await self._to_an_endpoint(request, deployment, raw_rest, sign=None)  # the version is public
        special = special_route(request.method, request.match_info["path"])
        if special is Special.PING:
            return ping_answer(PING_VERSION)
        if special is Special.AUTH_PLUGIN:  # anonymous in Backend.AI too: no signature, whoever asks
            return await self._to_an_endpoint(request, deployment, raw_rest, sign=None)
        if special is Special.TUS_UPLOAD:  # anonymous: the upload token in the path is the credential

            async def tus_headers(_target: UpstreamTarget, _meanwhile) -> dict[str, str]:
                return {name: request.headers[name] for name in TUS_HEADERS if name in request.headers}

            return await self._to_an_endpoint(request, deployment, raw_rest, sign=tus_headers)
        return await self._proxy(request, deployment, raw_rest)

    async def handle_pipeline(self, request: web.Request) -> web.StreamResponse:
        """FastTrack (``frontdoor.pipeline``): logged-in users only; a pipeline JWT, never a signature."""
        front = self._front
        raw_rest = _routed(request, PIPELINE_PREFIX)
        if not isinstance(raw_rest, str):
            return raw_rest
        if credential_login(request.method, raw_rest):
            log.warning(
                "refused a pipeline login",
                extra={"event": "security_violation", "reason": "pipeline_login", "path": request.path[:200]},
            )
            return problems.problem(
                403,
                "webserver/pipeline-login-refused",
                "The pipeline login sends Backend.AI credentials; it is not forwarded.",
                details="The pipeline server gets an X-BackendAI-SSO token with every request.",
            )
        session_id = session_cookie_value(request, front.config)
        record = front.known_session(request)
        if record is UNREAD:
            record = await front.session(request)
        if record is None:
            return problems.unauthorized()
        request[USER_ID_KEY] = record.user_id
        if carries_encoded_body(request):
            refusal = await decode_proxied_body(request, front.daemon)
            if refusal is not None:
                return refusal

        async def sso(_target: UpstreamTarget, _meanwhile) -> dict[str, str]:
            front.sessions.keep_alive(session_id, record)
            return pipeline_headers(front.config, record.access_key, request.headers.get("X-BackendAI-SSO"))

        return await self._to_an_endpoint(request, pipeline_deployment(front.config), raw_rest, sso, session_id)

    async def handle_deployment(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["deployment"]
        deployment = self._front.deployment(name)
        if deployment is None or name == MANAGER_DEPLOYMENT:
            return _no_such_deployment(name)
        raw_rest = _routed(request, deployment.route_prefix)
        if not isinstance(raw_rest, str):
            return raw_rest
        return await self._proxy(request, deployment, raw_rest)

    def _proxy(self, request: web.Request, deployment: Deployment, raw_rest: str) -> Awaitable[web.StreamResponse]:
        """The answer to await.  Not a coroutine itself: when the session is known without a read and
        no encoded body is to be read (nearly every request) the attempts' coroutine is returned, so no
        frame of this function is passed through again each time the request resumes."""
        record = self._front.known_session(request)  # (the guard looked it up: no coroutine to ask again)
        if record is UNREAD or carries_encoded_body(request):
            return self._proxy_after_reads(request, deployment, raw_rest, record)
        refusal = self._refusal(request, deployment, record)
        if refusal is not None:
            return problems.answered(refusal)
        return self._attempts(request, deployment, raw_rest, record)

    async def _proxy_after_reads(
        self, request: web.Request, deployment: Deployment, raw_rest: str, record
    ) -> web.StreamResponse:
        """``_proxy`` when the session must be read or an ``X-BackendAI-Encoded`` body decoded first."""
        if record is UNREAD:
            record = await self._front.session(request)
        refusal = self._refusal(request, deployment, record)
        if refusal is not None:
            return refusal
        if carries_encoded_body(request):
            refusal = await decode_proxied_body(request, self._front.daemon)
            if refusal is not None:
                return refusal
        return await self._attempts(request, deployment, raw_rest, record)

    def _refusal(
        self, request: web.Request, deployment: Deployment, record: SessionRecord | None
    ) -> web.Response | None:
        """The answer refusing the request to the deployment, or None (the user is then set for the line)."""
        if record is None:
            return problems.unauthorized()
        # (the Manager: may_call's answer is yes whoever calls, so the caller and group are not looked up)
        front = self._front
        if deployment.name != MANAGER_DEPLOYMENT and not may_call(
            caller_of(record, front.config.webapi.endpoint_admins),
            deployment.name,
            front.groups.group(deployment.group),
        ):
            return _no_such_deployment(deployment.name)  # a group one may not Read is not disclosed
        request[USER_ID_KEY] = record.user_id
        return None

    def _attempts(
        self, request: web.Request, deployment: Deployment, raw_rest: str, record: SessionRecord
    ) -> Awaitable[web.StreamResponse]:
        front = self._front
        session_id = session_cookie_value(request, front.config)

        def sign(target: UpstreamTarget, meanwhile) -> Awaitable[dict[str, str] | web.Response]:
            """The attempt's signature to await (the session's expiry slid once it is signed); not a
            coroutine itself: the signing call's is returned, one frame less while the signer works."""
            if deployment.signing == SigningMode.NONE:
                front.sessions.keep_alive(session_id, record)
                return _no_signature()
            return self._signed_headers(request, deployment, target, raw_rest, session_id, meanwhile, record)

        return self._to_an_endpoint(request, deployment, raw_rest, sign, session_id)

    async def _to_an_endpoint(
        self, request: web.Request, deployment: Deployment, raw_rest: str, sign, session_id: str | None = None
    ) -> web.StreamResponse:
        """Send to a healthy endpoint of the deployment; one that cannot be connected to is marked and,
        as nothing was sent yet, the request goes to the next one (signed anew for its host).  So does
        an idempotent request without a body whose connection broke.  ``sign(target, meanwhile)``: the
        attempt's headers; it calls ``meanwhile`` while a signer works, if one does (the upstream
        headers that need no signature are made then, off the request's critical path)."""
        pool = self._front.endpoint_pool(deployment)
        if self._front.tracing.enabled:
            self._front.tracing.annotate({"webui_host.deployment": deployment.name})
        self._upstream.fix_api_version(request)
        tried: set[str] = set()
        while (url := pool.choose(tried)) is not None:
            tried.add(url)
            try:
                target = upstream_target(url, raw_rest)
            except UnsafePath as exc:
                return problems.bad_request(f"Refused path: {exc}.", slug="invalid-api-params")
            prework = self._upstream.prework(request, target, deployment)
            signed = await sign(target, prework.run) if sign is not None else {}
            if not isinstance(signed, dict):  # the answer the browser gets instead (web.Response)
                return signed
            if wants_websocket(request):
                trace = self._front.tracing.propagation_headers()
                headers = prework.headers(signed, trace)
                return await self._relay.open(request, target, headers, session_id)
            pool.started(url)
            try:
                answer = await self._upstream.forward(request, target, signed, deployment, prework)
            finally:
                pool.finished(url)
            record(self._front.instruments, pool, deployment.name, url, alive=answer is not NOT_CONNECTED)
            if answer is not NOT_CONNECTED:
                return answer
        return problems.bad_gateway()

    def _signed_headers(
        self,
        request: web.Request,
        deployment: Deployment,
        target: UpstreamTarget,
        raw_rest: str,
        session_id: str | None,
        meanwhile=None,
        record: SessionRecord | None = None,
    ) -> Awaitable[dict[str, str] | web.Response]:
        """A signer's headers for this attempt, to await; or, not signed, the answer the browser gets
        instead.  (Not a coroutine itself: with tracing off the signing call's is returned, one frame
        less to pass through when the signer's reply resumes the request.)"""
        if not self._front.tracing.enabled:  # no span to open, no trace context to send
            signing = self._signing_request(request, deployment, target, raw_rest, session_id, _NO_TRACE)
            return self._signature_or_refusal(signing, deployment, meanwhile, record)
        signing_with = functools.partial(self._signing_request, request, deployment, target, raw_rest, session_id)
        return self._traced_signed_headers(deployment, signing_with, meanwhile, record)

    async def _traced_signed_headers(
        self,
        deployment: Deployment,
        signing_with: Callable[[dict[str, str]], SigningRequest],
        meanwhile,
        record: SessionRecord | None,
    ) -> dict[str, str] | web.Response:
        """``_signed_headers`` inside a client span whose trace context travels in the signing item
        (``signing_with(trace)``; the session's expiry slid after the span: the touch's task is not
        made in the span's context)."""
        tracing = self._front.tracing
        attributes = {
            "rpc.system": "webui-host",
            "rpc.service": "signer",
            "rpc.method": "sign",
            "webui_host.deployment": deployment.name,
        }
        with tracing.client_span("signer/sign", attributes) as span:
            trace = tracing.propagation_headers()  # this span's context: the signer's span joins it
            signing = signing_with(trace)
            signed = await self._signature_or_refusal(signing, deployment, meanwhile)
            if not isinstance(signed, dict):
                tracing.error(span, f"refused_{signed.status}")
        if record is not None and isinstance(signed, dict):
            self._front.sessions.keep_alive(signing.session_id, record)
        return signed

    async def _signature_or_refusal(
        self, signing: SigningRequest, deployment: Deployment, meanwhile, record: SessionRecord | None = None
    ) -> dict[str, str] | web.Response:
        """The signer's headers, or the answer refusing the request; ``record``: the session whose expiry
        a signed request slides (``SessionReader.keep_alive``)."""
        try:
            signed = await self._front.signers.sign(signing, deployment, meanwhile)
        except (SessionRejected, NoSignerAvailable, StoreUnavailableAtSigner, SigningRefused) as exc:
            return _refusal_answer(exc)
        if record is not None:
            self._front.sessions.keep_alive(signing.session_id, record)
        return signed

    def _signing_request(
        self,
        request: web.Request,
        deployment: Deployment,
        target: UpstreamTarget,
        raw_rest: str,
        session_id: str | None,
        trace,
    ) -> SigningRequest:
        websocket = wants_websocket(request)
        # A WebSocket handshake carries no body and no Content-Type; the Manager then assumes octet-stream.
        content_type = "application/octet-stream" if websocket else media_type(request.headers.get("Content-Type"))
        want_jwt = deployment.signing == SigningMode.HMAC_JWT and (
            raw_rest.partition("?")[0].strip("/") in self._front.config.api.graphql_paths
        )
        return SigningRequest(
            rid=0,
            session_id=session_id,
            method="GET" if websocket else request.method,
            target=target.target,
            host=target.host,
            content_type=content_type,
            api_version=self._upstream.api_version(request),
            want_jwt=want_jwt,
            request_id=request.get(REQUEST_ID_KEY, ""),
            deployment=deployment.name,
            traceparent=trace.get("traceparent", ""),
            tracestate=trace.get("tracestate", ""),
        )


async def _no_signature() -> dict[str, str]:
    """The headers of a deployment signed by nobody (``signing = "none"``), to await like a signature."""
    return {}


def _refusal_answer(exc: Exception) -> web.Response:
    """What the browser gets when its request was not signed."""
    if isinstance(exc, SessionRejected):
        return problems.unauthorized()
    if isinstance(exc, NoSignerAvailable):
        return problems.no_signer()
    if isinstance(exc, StoreUnavailableAtSigner):
        return problems.session_store_down()
    log.error("signer refused", extra={"event": "sign_refused", "reason": exc.reason})
    return problems.bad_gateway("The request could not be signed.")


def _routed(request: web.Request, route_prefix: str) -> str | web.Response:
    """The raw ``/<rest>?<query>`` below the deployment's route prefix, or the answer refusing it."""
    try:
        return routed_rest(request.raw_path, route_prefix)
    except NotRouted:
        return problems.problem(404, "url-not-found", "No such path.")
    except UnsafePath as exc:
        return problems.bad_request(f"Refused path: {exc}.", slug="invalid-api-params")


def _no_such_deployment(name: str) -> web.Response:
    return problems.problem(404, "url-not-found", f"No Web API Deployment named {name!r}.")
