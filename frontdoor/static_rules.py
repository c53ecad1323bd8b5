"""Pure rules of static hosting: which file a URL path may name, how long it may be cached, and
which precompressed variants the browser accepts.  No I/O except ``resolve_inside``'s stat calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

MAX_PATH_LENGTH = 1024

# First match wins, tested against the decoded URL path (Backend.AI's table, reference §4.10, plus
# content-hashed assets, which never change under their name and so may be cached for a year).
NO_STORE = "no-store"
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA = "public, max-age=259200"
CODE = "public, max-age=86400, must-revalidate, proxy-revalidate"
REVALIDATE = "no-cache"  # anything else: cache, but ask (ETag/Last-Modified make that a cheap 304)

CACHE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.(manifest|appcache|html?|xml|json|ini|toml)$", re.I), NO_STORE),
    (re.compile(r"(^|/)(backend[.-]ai-webui\.js|sw\.js)$", re.I), NO_STORE),  # entry points must not go stale
    (re.compile(r"\.(py|log|lo|txt)$", re.I), NO_STORE),
    # A name part of 8+ hex digits containing a digit, e.g. main.9ba6c6fd.js or view-2e5278da.js.
    (re.compile(r"[.-](?=[0-9a-f]*[0-9])[0-9a-f]{8,64}(\.chunk)?\.[a-z0-9]+(\.map)?$", re.I), IMMUTABLE),
    (re.compile(r"\.(jpe?g|gif|png|ico|cur|gz|svgz?|mp4|ogg|ogv|webm|htc|woff2?|ttf|otf|eot|webp|avif)$", re.I), MEDIA),
    (re.compile(r"\.(css|js|mjs)$", re.I), CODE),
)

# Preference order when the browser accepts several.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def cache_control_for(path: str) -> str:
    for pattern, value in CACHE_RULES:
        if pattern.search(path):
            return value
    return REVALIDATE


def safe_relative_path(raw_path: str) -> str | None:
    """The relative file path a raw URL path names, or None when it could step outside the root.

    The raw path is decoded exactly once; encoded separators and dots are judged after decoding, so
    ``%2e%2e``, ``..%2f`` and ``%5c`` are refused like their plain forms.  Hidden names (``.git``,
    ``.env``) are refused too, and so is anything still holding a ``%`` escape after decoding, which
    is how double-encoding attacks (``%252e``) arrive.
    """
    if len(raw_path) > MAX_PATH_LENGTH:
        return None
    try:
        decoded = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return None
    if any(ch in decoded for ch in ("\\", "\0", "%")) or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return None
    parts = [part for part in decoded.split("/") if part]
    if any(part.startswith(".") for part in parts):  # ".", "..", and hidden files
        return None
    return "/".join(parts)


def resolve_inside(root: Path, relative: str) -> Path | None:
    """The regular file ``relative`` names under ``root`` (symlinks followed, but only inside it)."""
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def accepted_encodings(header: str | None) -> list[str]:
    """Content codings the browser accepts (``q=0`` means refused), in our preference order."""
    accepted: dict[str, float] = {}
    for item in (header or "").lower().split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            accepted[name.strip()] = quality
    wildcard = accepted.get("*", 0.0)
    return [name for name, _ in ENCODINGS if accepted.get(name, wildcard) > 0]


def has_extension(relative: str) -> bool:
    """True for paths naming a file type (``a/b.js``); SPA routes (``/summary``) have none."""
    last = relative.rsplit("/", 1)[-1]
    return "." in last


# Sec-Fetch-Dest values of a page load; any other non-empty value but "empty" (fetch/XHR) is a subresource.
NAVIGATION_DESTS = frozenset({"document", "iframe", "frame"})


def request_kind(sec_fetch_dest: str | None, html_accepted: bool) -> str:
    """``navigation`` (a page load), ``subresource`` (a stylesheet, script, image, font, ...) or ``other``.

    ``Sec-Fetch-Dest`` decides when the browser sends it; otherwise an ``Accept`` that asks for HTML
    (``html_accepted``) is a navigation.
    """
    dest = (sec_fetch_dest or "").strip().lower()
    if dest in NAVIGATION_DESTS:
        return "navigation"
    if dest and dest != "empty":
        return "subresource"
    return "navigation" if html_accepted else "other"


def inline_script_policy(policy: str) -> str:
    """``policy`` for a bundle whose index.html has inline scripts without nonces (Backend.AI 23.09).

    Such a page cannot run under a nonce policy, so the nonce gives way to ``'unsafe-inline'``, as
    Backend.AI does; a bundle that marks its scripts ``nonce="{{nonce}}"`` keeps the strict policy.
    """
    directives = [d.strip() for d in re.sub(r"\s*'nonce-[^']*'", "", policy).split(";") if d.strip()]
    scripts = [i for i, d in enumerate(directives) if d.split()[0].lower() == "script-src"]
    if not scripts:
        directives.append("script-src 'self' 'unsafe-inline'")
    elif "'unsafe-inline'" not in directives[scripts[0]].split():
        directives[scripts[0]] += " 'unsafe-inline'"
    return "; ".join(directives)
