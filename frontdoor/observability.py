"""What the front door reports about each request: Prometheus labels and in-flight counts (``/stats``).

The label rules are plain functions (tested without sockets):

- ``endpoint`` is the route template, never the raw path, so its cardinality is bounded.  It uses the
  seed's names for the API surface so Backend.AI's PromQL examples work unchanged: login and logout
  are ``/api/auth/login`` and ``/api/auth/logout`` whether the browser used those paths or the
  Backend.AI webserver's ``/server/login`` and ``/server/logout``; proxied API calls are their route
  template under ``/api`` (``/api/func/{path}``, ``/api/webapi/{deployment}/{path}``); files of the
  web UI are ``/static/{path}`` (``/`` for the root); any other route keeps its template.
- ``domain``, ``operation``, ``error_detail`` follow Backend.AI's error codes (``ErrorDomain``,
  ``ErrorOperation``, ``ErrorDetail`` values) and are empty below status 400.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any, Callable

from aiohttp import web

from frontdoor.json_body import parse_object
from service_runtime.instruments import Instruments
from service_runtime.metric_values import count_and_observe

# What the request's log line reports, set by the middleware (id) and by the handlers (user, trace).
REQUEST_ID_KEY = web.RequestKey("request_id", str)
USER_ID_KEY = web.RequestKey("user_id", str)
TRACE_ID_KEY = web.RequestKey("trace_id", str)
_random_bits = random.getrandbits  # the module's shared generator: the one reseeded at fork


def new_request_id() -> str:
    """A request's id when the client sent no valid one: 16 hex digits, as ``secrets.token_hex(8)``.

    It correlates log lines; it is no credential (a client chooses its own with ``X-Request-ID``), so
    it needs uniqueness, not unpredictability: 64 bits of the ``random`` module's generator, seeded from
    the system's randomness at start and again in a forked child (the module reseeds at fork), instead
    of a ``getrandom`` system call per request."""
    return _random_bits(64).to_bytes(8, "big").hex()  # (the fastest spelling: ~0.2 µs)


LOGIN_ENDPOINT = "/api/auth/login"
LOGOUT_ENDPOINT = "/api/auth/logout"
STATIC_ENDPOINT = "/static/{path}"
UNMATCHED_ENDPOINT = "/{unmatched}"
_ALIASES = {
    "/server/login": LOGIN_ENDPOINT,
    "/api/auth/login": LOGIN_ENDPOINT,
    "/server/logout": LOGOUT_ENDPOINT,
    "/api/auth/logout": LOGOUT_ENDPOINT,
}
_PROXY_TEMPLATES = ("/func/{path}", "/webapi/{deployment}/{path}")
_STATIC_TEMPLATE = "/{tail}"


def endpoint_label(template: str | None, path: str) -> str:
    """The ``endpoint`` label of a request, from its route's template (None: no route matched)."""
    if template is None:
        return UNMATCHED_ENDPOINT
    if template in _ALIASES:
        return _ALIASES[template]
    if template in _PROXY_TEMPLATES:
        return "/api" + template
    if template == _STATIC_TEMPLATE:
        return "/" if path == "/" else STATIC_ENDPOINT
    return template


# The proxy route takes any method token a client sends: label only the standard ones by name.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


# Our own problem types (the slug after https://api.backend.ai/probs/) as Backend.AI error codes.
PROBLEM_CODES: dict[str, tuple[str, str, str]] = {
    "auth-failed": ("api", "auth", "unauthorized"),
    "invalid-api-params": ("api", "parsing", "invalid-parameters"),
    "generic-bad-request": ("api", "parsing", "bad-request"),
    "request-entity-too-large": ("api", "parsing", "bad-request"),
    "url-not-found": ("api", "request", "not-found"),
    "generic-not-found": ("api", "request", "not-found"),
    "method-not-allowed": ("api", "request", "bad-request"),
    "too-many-requests": ("api", "auth", "forbidden"),
    "rate-limit-exceeded": ("api", "check-limit", "forbidden"),
    "bad-gateway": ("api", "request", "unreachable"),
    "gateway-timeout": ("api", "request", "timeout"),
    "webserver/signer-unavailable": ("api", "request", "unavailable"),
    "service-unavailable": ("api", "request", "unavailable"),
    "internal-server-error": ("backendai", "generic", "internal-error"),
}
_CLIENT_DETAILS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    410: "gone",
    422: "invalid-parameters",
}
_SERVER_DETAILS = {502: "unreachable", 503: "unavailable", 504: "timeout", 501: "not-implemented"}
# A Manager error_code is "<domain>_<operation>_<detail>", each part lower-case words and hyphens.
_UPSTREAM_CODE = re.compile(r"^([a-z][a-z-]{0,39})_([a-z][a-z-]{0,39})_([a-z][a-z-]{0,39})$")
NO_ERROR = ("", "", "")


def error_labels(status: int, slug: str | None = None, upstream_code: str | None = None) -> tuple[str, str, str]:
    """(domain, operation, error_detail) of a response; empty on success."""
    if status < 400:
        return NO_ERROR
    if upstream_code and (match := _UPSTREAM_CODE.match(upstream_code)):
        return match.group(1), match.group(2), match.group(3)
    if slug in PROBLEM_CODES:
        return PROBLEM_CODES[slug]
    if status < 500:
        return "api", "request", _CLIENT_DETAILS.get(status, "bad-request")
    return "backendai", "generic", _SERVER_DETAILS.get(status, "internal-error")


def problem_slug(problem_type: Any) -> str | None:
    """The slug of a Backend.AI problem type URI, or None."""
    if isinstance(problem_type, str) and problem_type.startswith("https://api.backend.ai/probs/"):
        return problem_type.removeprefix("https://api.backend.ai/probs/")
    return None


# ---- /stats: Backend.AI's in-flight handler counts ----

STATS_KINDS = (
    "static",
    "webui",
    "config",
    "login",
    "login_check",
    "token_login",
    "logout",
    "healthcheck",
    "proxy_api",
    "proxy_plugin",
    "proxy_websocket",
)


def handler_kind(template: str | None, path: str, websocket: bool) -> str | None:
    """Which of Backend.AI's ``active_*_handlers`` counters a request belongs to (None: none)."""
    if template in _PROXY_TEMPLATES:  # (first: nearly every request; its endpoint label is neither below)
        return "proxy_websocket" if websocket else "proxy_api"
    endpoint = endpoint_label(template, path)
    if endpoint == LOGIN_ENDPOINT:
        return "login"
    if endpoint == LOGOUT_ENDPOINT:
        return "logout"
    if template == "/server/login-check":
        return "login_check"
    if template in ("/config.toml", "/config.ini"):
        return "config"
    if template == "/stats":
        return "healthcheck"
    if template == _STATIC_TEMPLATE:
        return "webui" if path == "/" or "." not in path.rsplit("/", 1)[-1] else "static"
    return None


class InFlight:
    """Requests being handled by this worker, by kind (what ``GET /stats`` reports)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_kind: Counter[str] = Counter()

    def enter(self, kind: str | None) -> None:
        self.total += 1
        if kind is not None:
            self.by_kind[kind] += 1

    def leave(self, kind: str | None) -> None:
        self.total -= 1
        if kind is not None:
            self.by_kind[kind] -= 1

    def stats(self, total_async_tasks: int) -> dict[str, int]:
        doc = {"total_async_tasks": total_async_tasks, "total_active_handlers": self.total}
        for kind in STATS_KINDS:
            doc[f"active_{kind}_handlers"] = self.by_kind[kind]
        return doc


# ---- what the request middleware records ----

MAX_PARSED_ERROR_BODY = 16 * 1024
_JSON_TYPES = ("application/problem+json", "application/json")


def error_info(response: web.StreamResponse | None) -> tuple[str | None, str | None]:
    """(problem slug, Manager error_code) of a small JSON error answer; (None, None) otherwise."""
    if response is None or response.status < 400 or not isinstance(response, web.Response):
        return None, None
    body = response.body
    if not isinstance(body, (bytes, bytearray)) or len(body) > MAX_PARSED_ERROR_BODY:
        return None, None
    if response.content_type not in _JSON_TYPES:
        return None, None
    try:
        doc = parse_object(body)  # bounded depth, like every JSON body we read
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    if "type" not in doc and isinstance(doc.get("data"), dict):
        doc = doc["data"]  # a failed login's envelope: {"authenticated": false, "data": {<the problem>}}
    code = doc.get("error_code")
    return problem_slug(doc.get("type")), code if isinstance(code, str) else None


def request_template(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


class RequestMetrics:
    """Records each request in the worker's instruments; a label set's two series are looked up once."""

    def __init__(self, instruments: Instruments):
        self._instruments = instruments
        # A label set's request count and duration, recorded by one call (``count_and_observe``).
        self._series: dict[tuple[str, ...], Callable[[float], None]] = {}  # label sets are bounded: so is this
        self._plain: dict[tuple, Callable[[float], None]] = {}  # (method label, route, status): bounded too

    def record(
        self,
        method: str,
        template: str | None,
        path: str,
        status: int,
        duration: float,
        response: web.StreamResponse | None,
    ) -> None:
        # A success outside the static catch-all is labelled by its method, route and status alone
        # (no error labels, no path): its series are found by those, without building the labels.
        plain = status < 400 and template != _STATIC_TEMPLATE
        key = (method if method in KNOWN_METHODS else "OTHER", template, status) if plain else None  # (method_label)
        series = self._plain.get(key) if plain else None
        if series is None:
            series = self._series_of(self._labels(method, template, path, status, response))
            if plain:
                self._plain[key] = series
        series(duration)

    @staticmethod
    def _labels(method: str, template: str | None, path: str, status: int, response) -> tuple[str, ...]:
        slug, upstream_code = error_info(response)
        return (
            method_label(method),
            endpoint_label(template, path),
            *error_labels(status, slug, upstream_code),
            str(status),
        )

    def _series_of(self, labels: tuple[str, ...]) -> Callable[[float], None]:
        series = self._series.get(labels)
        if series is None:
            instruments = self._instruments
            series = self._series[labels] = count_and_observe(
                instruments.api_requests.labels(*labels), instruments.api_duration.labels(*labels)
            )
        return series


REQUEST_METRICS = web.AppKey("request_metrics", RequestMetrics)  # what the request chain records with
IN_FLIGHT = InFlight()  # one front-door worker, one application: a process-wide count
