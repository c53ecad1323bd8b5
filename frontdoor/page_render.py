"""Rendering our own HTML pages: language, theme, asset URLs and the security headers of a page."""

from __future__ import annotations

import hashlib
import importlib.resources
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from frontdoor.templating import html_environment
from frontdoor.ui_text import LANG_COOKIE, THEME_COOKIE, choose_language, choose_theme, script_text, translator

# Package data: a real directory beside this module in a checkout and in an installed wheel alike.
OWN_ASSETS = Path(str(importlib.resources.files("frontdoor") / "static" / "ui"))
ASSET_PREFIX = "/ui/static"

# Our pages load nothing from elsewhere and run no inline script; data for scripts travels in a
# <script type="application/json"> block, which CSP does not execute.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def asset_url(name: str) -> str:
    """The URL of one of our assets, versioned by content so a new release is never served stale."""
    digest = hashlib.sha256((OWN_ASSETS / name).read_bytes()).hexdigest()[:12]
    return f"{ASSET_PREFIX}/{name}?v={digest}"


def page_context(request: web.Request) -> dict[str, Any]:
    language = choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"))
    return {
        "lang": language,
        "theme": choose_theme(request.cookies.get(THEME_COOKIE)),
        "t": translator(language),
        "script_text": script_text(language),
        "asset": asset_url,
        "user": None,
        "page": "",
    }


def render_page(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    html = html_environment().get_template(template).render(**{**page_context(request), **context})
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)
