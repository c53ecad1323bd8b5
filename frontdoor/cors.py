"""CORS for the API paths: only allow-listed origins, with credentials, and never an echo of any other.

Headers are computed by plain functions; ``security.py`` applies them as every response is prepared, so
they reach streamed and WebSocket responses too.  The Manager's own ``Access-Control-*`` headers
are dropped from proxied responses: what a browser may do with our cookie is our decision alone.
"""

from __future__ import annotations

from multidict import CIMultiDict

from contract.origins import OriginPolicy

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "Range",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "If-Range",
    "X-BackendAI-Version",
    "X-BackendAI-Encoded",
    "X-Request-ID",
    "X-Requested-With",
)
EXPOSED_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Window",
    "Retry-After",
    "X-Request-ID",
    "Content-Disposition",
)
EXPOSED_LIST = ", ".join(EXPOSED_HEADERS)


def is_preflight(method: str, headers) -> bool:
    return method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers


def preflight_headers(policy: OriginPolicy, origin: str | None, max_age: int) -> dict[str, str] | None:
    """The answer to a preflight from ``origin``, or None when the origin is not allowed.

    The allowed headers are a fixed list, not the requested ones echoed: a browser asking for
    others sees them missing and refuses the request itself.
    """
    if not policy.allows(origin):
        return None
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
        "Access-Control-Max-Age": str(max_age),
        "Vary": "Origin",
    }


def apply_cors(headers: CIMultiDict[str], policy: OriginPolicy, origin: str | None) -> None:
    """Set the CORS headers of an actual (non-preflight) API response in place."""
    # One look at all the names (joined, lower-cased: two C calls) tells whether any could be one;
    # only then are they looked at one by one (the '-' at index 14 first: fewer lower-case copies).
    if "access-control-" in "\n".join(headers).lower():
        for name in [name for name in headers if name[14:15] == "-" and name[:15].lower() == "access-control-"]:
            headers.popall(name, None)
    add_cors(headers, policy, origin)


def add_cors(headers: CIMultiDict[str], policy: OriginPolicy, origin: str | None) -> None:
    """``apply_cors`` of headers known to hold no ``Access-Control-*`` (a relayed answer's: the upstream's
    were dropped by ``frontdoor.upstream.downstream_headers``)."""
    _add_vary_origin(headers)
    if origin is not None and policy.allows(origin):
        headers["Access-Control-Allow-Origin"] = origin  # allow-listed, exactly as the browser wrote it
        headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Expose-Headers"] = EXPOSED_LIST


def _add_vary_origin(headers: CIMultiDict[str]) -> None:
    # Caches must not hand one origin's answer to another.
    vary = headers.get("Vary")
    if vary is None:
        headers["Vary"] = "Origin"
    elif "origin" not in vary.lower() and vary.strip() != "*":
        headers["Vary"] = f"{vary}, Origin"
