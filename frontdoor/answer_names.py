"""What becomes of a proxied answer's header, by its name: relayed, dropped, or a ``Set-Cookie`` to
contain (``frontdoor.upstream.downstream_headers``).  Plain functions, no I/O.

Dropped: hop-by-hop headers, the upstream's ``Server``, headers that act on our whole origin (ours
replace them: ``Content-Security-Policy``; or none may: ``Clear-Site-Data``, which would wipe our
session cookie and storage), and an upstream's CORS headers (ours are set: ``frontdoor.cors``).

The answer is kept per name as the upstream spells it (one dict look-up per header of an answer, where
lower-casing it, a set look-up and three comparisons were); names only, never values, and at most
``MAX_ANSWER_NAMES`` of them: past that a new spelling is decided each time it comes.
"""

from __future__ import annotations

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
        "Server",
    )
)
ANSWER_HEADERS_OF_OURS = frozenset({"content-security-policy", "clear-site-data"})
CORS_HEADER_PREFIX = "access-control-"  # an upstream's CORS headers are dropped: ours are set (frontdoor.cors)
CORS_HEADERS_END = "access-control."  # every name starting with the prefix sorts before this one
NOT_RELAYED = HOP_BY_HOP | ANSWER_HEADERS_OF_OURS  # (one look-up per header)

RELAYED, DROPPED, SET_COOKIE = "relayed", "dropped", "set-cookie"
ANSWER_NAME_KINDS: dict[str, str] = {}  # name as spelt -> RELAYED, DROPPED or SET_COOKIE
MAX_ANSWER_NAMES = 512


def answer_name_kind(name: str) -> str:
    """What becomes of an answer header named ``name`` (kept in ``ANSWER_NAME_KINDS`` while it has room)."""
    lower = name.lower()
    # (the prefix test as two comparisons: ``startswith`` is a method call; "." follows "-")
    if lower in NOT_RELAYED or CORS_HEADER_PREFIX <= lower < CORS_HEADERS_END:
        kind = DROPPED
    elif lower == "set-cookie":
        kind = SET_COOKIE
    else:
        kind = RELAYED
    if len(ANSWER_NAME_KINDS) < MAX_ANSWER_NAMES:
        ANSWER_NAME_KINDS[name] = kind
    return kind
