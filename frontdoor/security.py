"""Assembly of the browser-facing protections of one front-door worker.

One guard in front of the routes (CORS preflight, CSRF, rate limits, the CSP nonce), run by the
request chain (``frontdoor.request_chain``), and one hook behind them (CORS, security and rate-limit
headers), ``finish_headers``, which the request's prepare hook calls for every routed response
(``without_server_header``): streamed, file and WebSocket responses, aiohttp's own 404/405/413 and
errors, as well as plain ones.  The rules themselves are plain functions in ``cors``, ``csrf``,
``security_headers`` and ``ratelimit`` (logins, exact, in Redis), with ``ratelimit_batched`` for
access keys (in memory, synced with Redis in the background).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from aiohttp import web

from contract.account_names import account_key
from contract.config import Config
from contract.origins import OriginPolicy
from frontdoor import problems
from frontdoor.context import UNREAD, FrontDoor
from frontdoor.cors import add_cors, apply_cors, is_preflight, preflight_headers
from frontdoor.csrf import SAFE_METHODS, csrf_refusal, own_origins
from frontdoor.https_redirect import redirect_listener
from frontdoor.manager_auth import LOGIN_INSTEAD, PASSWORD_CHANGE_INSTEAD, AuthRule, auth_rule
from frontdoor.observability import REQUEST_ID_KEY
from frontdoor.problems import API_PREFIXES, PROXIED_PREFIXES
from frontdoor.ratelimit import RateLimiter, Verdict
from frontdoor.ratelimit_batched import BatchedLimiter
from frontdoor.security_headers import (
    CSP_NONCE,
    RELAYED,
    hsts_header,
    new_nonce,
    page_headers,
    proxied_answer_headers,
    relayed_answer_headers,
    without_policy,
    without_server_header,
)
from frontdoor.special_routes import SIGNUP_PATH, limited_like_login, path_for_logs
from frontdoor.websocket import wants_websocket
from service_runtime.background import run_in_background
from service_runtime.redis_client import redis_client

log = logging.getLogger(__name__)
RATE_LIMIT = web.RequestKey("rate_limit", Verdict)  # the verdict whose headers the response carries
PREFLIGHT = web.RequestKey("cors_preflight", bool)
READ_FIRST = object()  # ``_known_verdict``: only ``_rate_limit`` can tell

# Everything that checks a password: limited per client IP, apart from the per-username counter.
PASSWORD_PATHS = frozenset(
    {"/server/login", "/api/auth/login", "/server/token-login", "/server/update-password-no-auth", "/ui/login"}
)


# Backend.AI's [security] request_policies, by name: what each refuses (403).
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "169.254.169.254",
        "100.100.100.200",
        "alibaba.zaproxy.org",
        "metadata.oraclecloud.com",
    }
)
UNSAFE_FILE_NAMES = frozenset({"._darcs", ".bzr", ".hg", "BitKeeper", ".bak", ".log", ".git", ".svn"})


def policy_refusal(policies: list[str], host: str, path: str) -> str | None:
    """The request policy that refuses a request for ``host`` and ``path``, or None."""
    if "reject_metadata_local_link_policy" in policies and host.lower().split(":")[0] in METADATA_HOSTS:
        return "reject_metadata_local_link_policy"
    if "reject_access_for_unsafe_file_policy" in policies and path.split("/")[-1] in UNSAFE_FILE_NAMES:
        return "reject_access_for_unsafe_file_policy"
    return None


def parser_limits(config: Config) -> dict[str, int]:
    """``handler_args`` of the application: aiohttp's parser refuses longer lines and more headers."""
    security = config.security
    return {
        "max_line_size": security.max_header_size,
        "max_field_size": security.max_header_size,
        "max_headers": security.max_headers,
    }


class Security:
    def __init__(self, front: FrontDoor, logins: RateLimiter, keys: BatchedLimiter, password_checks: RateLimiter):
        self._front = front
        self._config = front.config.security
        self._origins = OriginPolicy.from_strings(self._config.cors_allowed_origins)
        self._logins = logins  # exact: one Redis round trip per password check
        # In memory, synced in batches: no round trip per proxied request.  It exists even when access-key
        # limits are off (``enabled`` is read per request), so a reload can turn them on.
        self._keys = keys
        self._password_checks = password_checks  # per account, over the failed-login window; shares logins' client

    def reload(self, config: Config) -> None:
        """What this component copied at start: the origin allow-list and the limiters' windows."""
        self._origins = OriginPolicy.from_strings(config.security.cors_allowed_origins)
        limits = config.security.rate_limit
        self._logins.set_window(limits.window)
        self._keys.reload(limits.window, limits.sync_interval)
        self._password_checks.set_window(config.session.login_block_time)

    def install(self, app: web.Application) -> None:
        """Hooks and background work; ``guard`` runs inside the request chain (``frontdoor.request_chain``)."""
        without_server_header(app, finish=self.finish_headers)  # every routed response, as on_response_prepare
        app.cleanup_ctx.append(self._key_counter_sync)
        app.on_cleanup.append(lambda _app: self._logins.close())
        if self._front.config.service.ssl_enabled and self._config.http_redirect_port:
            app.cleanup_ctx.append(redirect_listener(self._front.config))

    @web.middleware
    def guard(self, request: web.Request, handler) -> Awaitable[web.StreamResponse]:
        """The answer to await.  Not a coroutine itself: when nothing is to be read first (no Manager
        auth rule, the rate limit's verdict known: nearly every request) the handler's coroutine is
        returned, so no frame of the guard is passed through again each time the request resumes."""
        path = request.path
        proxied = path.startswith(PROXIED_PREFIXES)
        if not proxied:
            request[CSP_NONCE] = new_nonce()
        policies = self._config.request_policies
        refused_by = policy_refusal(policies, request.host, path) if policies else None
        if refused_by is not None:
            return problems.answered(
                _refusal(request, web.HTTPForbidden, "forbidden", "Forbidden.", f"Refused by {refused_by}.")
            )
        if is_preflight(request.method, request.headers) and path.startswith(API_PREFIXES):
            request[PREFLIGHT] = True
            return problems.answered(self._preflight(request))
        refusal = self._csrf_refusal(request)
        if refusal is not None:
            return problems.answered(self._refuse(request, refusal))
        rule = self._auth_rule(request) if proxied else None  # before anything is signed or the session read
        if rule is not None:
            return self._guard_reading(request, handler, path, proxied, rule)
        verdict = self._known_verdict(request, path, proxied)  # a busy key's: no coroutine
        if verdict is READ_FIRST:
            return self._guard_reading(request, handler, path, proxied, None)
        refusal = _limited(request, verdict)
        return handler(request) if refusal is None else problems.answered(refusal)

    async def _guard_reading(
        self, request: web.Request, handler, path: str, proxied: bool, rule: AuthRule | None
    ) -> web.StreamResponse:
        """The guard's rest when the Manager's auth rule or the rate limit must read first."""
        if rule is not None:
            answer = await self._manager_auth(request, rule)
            if answer is not None:
                return answer
            verdict = self._known_verdict(request, path, proxied)
            if verdict is READ_FIRST:
                verdict = await self._rate_limit(request, path, proxied)
        else:  # (``guard`` asked ``_known_verdict`` already: it said read first)
            verdict = await self._rate_limit(request, path, proxied)
        refusal = _limited(request, verdict)
        return await handler(request) if refusal is None else refusal

    def finish_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        # Ours, not an upstream's: a streamed answer's head leaves before the request chain marks it
        # (a whole answer carries it already; setting it again keeps its place).
        request_id = request.get(REQUEST_ID_KEY)
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        if type(response) in RELAYED:  # (only on proxied paths, all API paths: never a preflight's answer)
            add_cors(headers, self._origins, request.headers.get("Origin"))
            ours = relayed_answer_headers(request.secure, self._config.hsts_max_age)
        else:
            ours = self._answer_headers(request, headers)
        for name, value in ours:  # (one by one: multidict's update takes ~3x as long)
            headers[name] = value
        verdict = request.get(RATE_LIMIT)
        if verdict is not None:
            verdict.set_headers(headers)

    def _answer_headers(self, request: web.Request, headers) -> tuple[tuple[str, str], ...]:
        """CORS set on ``headers`` of any answer but a relayed one; the security headers it gets."""
        path = request.path
        # (only an OPTIONS can be a preflight: the others skip the look-up)
        if path.startswith(API_PREFIXES) and not (request.method == "OPTIONS" and request.get(PREFLIGHT)):
            apply_cors(headers, self._origins, request.headers.get("Origin"))
        own_policy = "Content-Security-Policy" in headers  # a handler's own policy stands
        if path.startswith(PROXIED_PREFIXES):  # a fixed sandbox policy (no nonce): the same pairs for every answer
            return proxied_answer_headers(request.secure, self._config.hsts_max_age, own_policy)
        nonce = request.get(CSP_NONCE) or new_nonce()
        ours = (
            *page_headers(headers.get("Content-Type"), nonce, self._config.page_policy, False).items(),
            *hsts_header(request.secure, self._config.hsts_max_age).items(),
        )
        return without_policy(ours) if own_policy else ours

    # ---- pieces of the guard ----

    def _preflight(self, request: web.Request) -> web.Response:
        headers = preflight_headers(self._origins, request.headers.get("Origin"), self._config.cors_max_age)
        if headers is None:
            return problems.problem(403, "cors-origin-refused", "This origin may not call the API.")
        return web.Response(status=204, headers=headers)

    def _csrf_refusal(self, request: web.Request) -> str | None:
        websocket = wants_websocket(request)
        if request.method in SAFE_METHODS and not websocket:
            return None  # the common case, decided before any origin is parsed
        ours = own_origins(request.scheme, request.host, *self._forwarded(request))
        return csrf_refusal(
            request.method,
            websocket,
            request.headers.get("Origin"),
            request.headers.get("Sec-Fetch-Site"),
            ours,
            self._origins,
        )

    def _forwarded(self, request: web.Request) -> tuple[str | None, str | None]:
        """X-Forwarded-Proto/Host, believed only from a trusted proxy."""
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not peer or peer[0] not in self._front.trusted_proxies:
            return None, None
        return request.headers.get("X-Forwarded-Proto"), request.headers.get("X-Forwarded-Host")

    def _refuse(self, request: web.Request, reason: str) -> web.Response:
        log.warning(
            "refused a cross-origin request",
            extra={
                "event": "security_violation",
                "reason": "csrf",
                "detail": reason,
                "method": request.method,
                "path": path_for_logs(request.path)[:200],
                "origin": (request.headers.get("Origin") or "")[:200],
            },
        )
        return _refusal(
            request,
            web.HTTPForbidden,
            "csrf-refused",
            "Cross-origin request refused.",
            "State-changing requests are accepted only from this site's own pages or allowed origins.",
        )

    def _auth_rule(self, request: web.Request) -> AuthRule | None:
        """What ``manager_auth`` says of a proxied request (None for nearly all: no coroutine then)."""
        if request.method == "POST" and request.path == SIGNUP_PATH and self._front.config.service.enable_signup:
            return None  # served by frontdoor.signup through the session daemon, never proxied
        return auth_rule(request.raw_path)

    async def _manager_auth(self, request: web.Request, rule: AuthRule) -> web.Response | None:
        """The Manager's password-taking auth endpoints: refused, or limited per account (manager_auth)."""
        if rule is AuthRule.REFUSE:
            log.warning(
                "refused a Manager auth endpoint",
                extra={
                    "event": "security_violation",
                    "reason": "manager_auth",
                    "method": request.method,
                    "path": path_for_logs(request.path)[:200],
                },
            )
            return problems.problem(
                403,
                "webserver/auth-endpoint-refused",
                "This Manager endpoint is not available through the web server.",
                details=f"Log in with POST {LOGIN_INSTEAD}; change an expired password with POST "
                f"{PASSWORD_CHANGE_INSTEAD}.",
            )
        record = await self._front.session(request)
        if record is None:
            return None  # the proxy answers 401
        session = self._front.config.session
        verdict = await self._password_checks.check(
            "password_check", account_key(record.user_id), session.login_allowed_fail_count
        )
        if verdict is None or verdict.admitted:
            return None
        request[RATE_LIMIT] = verdict
        return problems.problem(
            429,
            "too-many-requests",
            "Too many password checks for this account.",
            details=f"Try again in {verdict.retry_after} s.",
        )

    def _known_verdict(self, request: web.Request, path: str, proxied: bool) -> Verdict | None | object:
        """The rate limit's verdict when deciding it needs no read (no limit, or a known session whose
        key's counts are known and fresh: nearly every proxied request); ``READ_FIRST`` otherwise."""
        if self._login_limited(request.method, path):
            return READ_FIRST  # exact: one round trip each
        limits = self._config.rate_limit
        if not proxied or not limits.enabled:
            return None
        record = self._front.known_session(request)
        if record is UNREAD:
            return READ_FIRST
        limit = _key_limit(record, limits)
        if limit is None:
            return None
        verdict = self._keys.admit_known(record.access_key, limit)
        return READ_FIRST if verdict is None else verdict

    async def _rate_limit(self, request: web.Request, path: str, proxied: bool) -> Verdict | None:
        """The rate limit's verdict, reading what must be read first (the same rules as ``_known_verdict``)."""
        limits = self._config.rate_limit
        if self._login_limited(request.method, path):
            return await self._logins.check("login", self._front.client_ip(request), limits.login_requests)
        if not proxied or not limits.enabled:
            return None
        record = await self._front.session(request)
        limit = _key_limit(record, limits)
        return None if limit is None else await self._keys.admit(record.access_key, limit)

    def _login_limited(self, method: str, path: str) -> bool:
        """Limited per client IP as a login is (exact, in Redis)."""
        return (method == "POST" and path in PASSWORD_PATHS) or limited_like_login(
            method, path, self._front.config.service.enable_signup
        )

    async def _key_counter_sync(self, _app: web.Application):
        task = run_in_background(self._keys.run(), "access-key counter sync")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._keys.sync()  # hand this worker's last admissions to the others


def _key_limit(record, limits) -> int | None:
    """The access-key limit of a session's requests; None when they are not limited (no session:
    the proxy answers 401; a role whose limit is 0)."""
    if record is None:
        return None
    limit = limits.role_limits.get(record.role, limits.requests)
    return limit or None


def _limited(request: web.Request, verdict: Verdict | None) -> web.StreamResponse | None:
    """The rate limit's refusal, or None; the verdict kept for the answer's headers either way."""
    if verdict is None:
        return None
    request[RATE_LIMIT] = verdict
    if verdict.admitted:
        return None
    return _refusal(
        request,
        web.HTTPTooManyRequests,
        "rate-limit-exceeded",
        "Too many requests.",
        f"Try again in {verdict.retry_after} s.",
    )


def _refusal(request: web.Request, error: type[web.HTTPException], slug: str, title: str, details: str):
    """problem+json on the API; elsewhere the exception, which the error pages turn into a page."""
    if request.path.startswith(API_PREFIXES):
        return problems.problem(error.status_code, slug, title, details=details)
    raise error(text=f"{title} {details}")


def install_security(app: web.Application, front: FrontDoor) -> Security:
    limits = front.config.security.rate_limit
    client = redis_client(front.config, "frontdoor")
    keys = BatchedLimiter(client, limits.window, limits.sync_interval)
    password_checks = RateLimiter(client, front.config.session.login_block_time)
    security = Security(front, RateLimiter(client, limits.window), keys, password_checks)
    security.install(app)
    return security
