"""Errors outside the API paths: a readable page for browsers, problem+json for everything else.

API paths (``problems.API_PREFIXES``) are left to ``middlewares.error_answer``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web

from frontdoor import problems
from frontdoor.page_render import render_page
from frontdoor.problems import API_PREFIXES
from frontdoor.special_routes import path_for_logs
from service_runtime.invalidation import StoreUnavailable

log = logging.getLogger(__name__)

SLUGS = {403: "forbidden", 404: "generic-not-found", 405: "method-not-allowed", 421: "misdirected-request"}
PAGE_KEYS = {403: "403", 404: "404", 405: "405", 421: "421", 500: "500", 502: "502", 503: "503"}
KEPT_HEADERS = ("Allow", "Retry-After")


def wants_html(accept: str | None) -> bool:
    """True for a browser navigation (``Accept: text/html,...``), not for fetch() or scripts."""
    for item in (accept or "").split(","):
        media, *params = [part.strip() for part in item.split(";")]
        if media.lower() in ("text/html", "application/xhtml+xml"):
            return _quality(params) > 0
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def page_keys(status: int) -> tuple[str, str]:
    """The title and text keys of the error page for ``status``."""
    title = f"error_title_{PAGE_KEYS.get(status, 'other')}"
    if status >= 500:
        return title, "error_text_5xx"
    return title, {403: "error_text_403", 404: "error_text_404", 421: "error_text_421"}.get(status, "error_text_other")


def error_response(request: web.Request, status: int, headers: dict[str, str] | None = None) -> web.Response:
    if wants_html(request.headers.get("Accept")):
        title_key, text_key = page_keys(status)
        try:
            response = render_page(
                request, "ui/error.html", status=status, code=status, title_key=title_key, text_key=text_key
            )
        except Exception:  # a broken template must not turn one error into another
            log.exception("error page failed", extra={"event": "internal_error", "path": path_for_logs(request.path)})
            response = web.Response(status=status, text=f"{status}", content_type="text/plain")
    else:
        slug = SLUGS.get(status, "generic-bad-request" if status < 500 else "internal-server-error")
        response = problems.problem(status, slug, _reason(status))
    for name, value in (headers or {}).items():
        if name in KEPT_HEADERS:
            response.headers[name] = value
    return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@web.middleware
async def error_page_middleware(request: web.Request, handler):
    if request.path.startswith(API_PREFIXES):
        return await handler(request)
    try:
        return await handler(request)
    except Exception as exc:
        return page_error_answer(request, exc)


def page_error_answer(request: web.Request, exc: Exception) -> web.Response:
    """The page (or problem+json) for an exception out of a handler outside the API paths (logged when
    unexpected); an ``HTTPException`` below 400 is raised again.  Call it in the ``except`` clause."""
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return error_response(request, exc.status, dict(exc.headers))
    if isinstance(exc, StoreUnavailable):  # Redis away: a readable 503, logged once per outage where it was noticed
        return error_response(request, 503, {"Retry-After": problems.STORE_RETRY_AFTER})
    log.exception("unhandled error", extra={"event": "internal_error", "path": path_for_logs(request.path)})
    return error_response(request, 500)
