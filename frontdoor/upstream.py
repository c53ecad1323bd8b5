"""What goes upstream and what comes back: header rules as plain functions (no I/O)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

USER_AGENT = "webui-host/0.1 (Backend.AI Web Server compatible)"
DEFAULT_MEDIA_TYPE = "application/octet-stream"

# Browser headers that carry meaning for the Manager; everything else (Origin, Referer, our session
# cookie, the browser's own Authorization, X-BackendAI-SessionID, ...) stays here.
FORWARDED_REQUEST_HEADERS = (
    "Accept", "Accept-Language", "Accept-Encoding", "Content-Type", "Content-Length",
    "Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
)
HOP_BY_HOP = frozenset(
    h.lower()
    for h in ("Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
              "Trailers", "Transfer-Encoding", "Upgrade", "Server")
)


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    base_url: str  # scheme://host[:port] of the Manager
    host: str  # Host header as sent, and as signed
    target: str  # path?query as sent, and as signed


class UnsafePath(ValueError):
    pass


def upstream_target(endpoint: str, raw_rest: str) -> UpstreamTarget:
    """Join the Manager endpoint and the raw ``/<path>?<query>`` after ``/func``, refusing tricks."""
    path, _, _query = raw_rest.partition("?")
    decoded = unquote(path)
    if any(ch in raw_rest for ch in "\r\n\0\\") or "\0" in decoded:
        raise UnsafePath("control character or backslash in path")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise UnsafePath("dot segment in path")
    parts = urlsplit(endpoint)
    return UpstreamTarget(f"{parts.scheme}://{parts.netloc}", parts.netloc, parts.path.rstrip("/") + raw_rest)


def media_type(content_type: str | None) -> str:
    """The media type the Manager signs: lower case, no parameters, octet-stream when absent."""
    if not content_type:
        return DEFAULT_MEDIA_TYPE
    return content_type.split(";", 1)[0].strip().lower() or DEFAULT_MEDIA_TYPE


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: frozenset[str]) -> str:
    """The browser's address: the peer, unless the peer is a proxy we trust to tell us."""
    address = peer or ""
    if forwarded_for and address in trusted_proxies:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):  # the right-most hop that is not one of ours
            if hop not in trusted_proxies:
                return hop if _is_ip(hop) else address
    return address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def forwarded_cookies(cookie_header: str | None, session_cookie: str) -> str | None:
    """Browser cookies minus ours: the Manager must never see the session cookie.

    Pairs are passed on as the browser wrote them; only the ones named like ours are dropped.
    """
    if not cookie_header:
        return None
    kept = [
        pair.strip()
        for pair in cookie_header.split(";")
        if pair.strip() and pair.split("=", 1)[0].strip() != session_cookie
    ]
    return "; ".join(kept) or None


def upstream_headers(
    incoming: CIMultiDictProxy[str],
    *,
    api_version: str,
    domain: str,
    host: str,
    client_ip: str,
    scheme: str,
    session_cookie: str,
    signed: dict[str, str],
) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name in FORWARDED_REQUEST_HEADERS:
        if name in incoming:
            headers[name] = incoming[name]
    cookies = forwarded_cookies(incoming.get("Cookie"), session_cookie)
    if cookies:
        headers["Cookie"] = cookies
    headers["Host"] = host
    headers["User-Agent"] = USER_AGENT
    headers["X-BackendAI-Version"] = api_version
    headers["X-BackendAI-Domain"] = domain
    headers["X-Forwarded-For"] = client_ip
    headers["X-Forwarded-Host"] = incoming.get("Host", "")
    headers["X-Forwarded-Proto"] = scheme
    headers.update(signed)
    return headers


def downstream_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict((name, value) for name, value in upstream.items() if name.lower() not in HOP_BY_HOP)
