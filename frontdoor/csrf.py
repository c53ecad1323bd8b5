"""CSRF: a browser may change state only from our own origin or an allow-listed one.

No token: the browser itself says where a request comes from, in headers a page cannot forge
(``Sec-Fetch-Site`` in current browsers, ``Origin`` on every cross-origin and state-changing
request).  So any number of tabs keep working, and non-browser clients (the SDK, curl), which send
neither header, are not affected.  WebSocket handshakes are checked like state-changing requests,
because a page on any site may open one and the browser would send our cookie with it.

The rule applies to every state-changing request, with a cookie or without: a cross-site login
(login CSRF) is refused as well.
"""

from __future__ import annotations

from contract.origins import OriginPolicy, normalise_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})  # "none": the user typed or bookmarked it


def own_origins(
    scheme: str, host: str | None, forwarded_proto: str | None = None, forwarded_host: str | None = None
) -> frozenset[str]:
    """Our origin as the browser sees it: from the request, and from a trusted proxy's forwarded facts.

    Over plain HTTP the HTTPS origin of the same host counts as ours too: that is a TLS terminator in
    front of us.  The reverse (an http:// page posting to our HTTPS listener) does not.
    """
    candidates = [f"{scheme}://{host}" if host else None]
    if scheme == "http" and host:
        candidates.append(f"https://{host}")
    if forwarded_proto and forwarded_host:
        candidates.append(f"{forwarded_proto.strip().lower()}://{forwarded_host.strip()}")
    return frozenset(origin for origin in map(normalise_origin, candidates) if origin is not None)


def csrf_refusal(
    method: str,
    websocket: bool,
    origin: str | None,
    fetch_site: str | None,
    ours: frozenset[str],
    allowed: OriginPolicy,
) -> str | None:
    """Why the request must be refused, or None when it may go ahead."""
    if method in SAFE_METHODS and not websocket:
        return None
    if fetch_site is not None and fetch_site.strip().lower() in TRUSTED_FETCH_SITES:
        return None
    if origin is not None:
        if normalise_origin(origin) in ours or allowed.allows(origin):
            return None
        return "foreign origin"
    if fetch_site is not None:  # same-site or cross-site, and no Origin to tell us which site
        return "cross-site request"
    return None  # not a browser: nothing a cookie-riding page could have sent
