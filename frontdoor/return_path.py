"""Where a browser may be sent back to after logging in, and which form posts come from our pages.

Both are pure functions, tested against tables of known bypasses.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

DEFAULT_RETURN_PATH = "/ui/"
LOGIN_PATH = "/ui/login"
MAX_RETURN_PATH = 2048
# Paths a browser must never be "returned" to: APIs answer JSON, and the login page would loop.
REFUSED_PREFIXES = ("/server/", "/func/", "/api/", LOGIN_PATH + "/", "/ui/logout/")


def _is_local_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")):
        return False
    if any(ch in text for ch in "\\\t\r\n ") or not text.isascii() or not text.isprintable():
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_return_path(candidate: str | None, default: str = DEFAULT_RETURN_PATH) -> str:
    """``candidate`` if it is a path on this origin, else ``default``.

    Refused: other origins (``https://evil``, ``//evil``, ``/\\evil``), schemes (``javascript:``),
    and anything that becomes one of those after percent-decoding, however many times encoded
    (``/%2F%2Fevil``, ``/%252F%252Fevil``): some proxy or framework on the way may decode again.
    Browsers drop tabs and newlines inside URLs (``/\\t/evil`` becomes ``//evil``), so any
    whitespace or control character is refused too.
    """
    if not isinstance(candidate, str) or not candidate or len(candidate) > MAX_RETURN_PATH:
        return default
    decoded = candidate
    for _ in range(4):
        if not _is_local_path(decoded):
            return default
        once_more = unquote(decoded)
        if once_more == decoded:
            break
        decoded = once_more
    else:
        return default  # still changing after four decodings: nobody needs that
    path = urlsplit(decoded).path
    if (path + "/").startswith(REFUSED_PREFIXES):
        return default
    return candidate


def is_same_origin_post(host: str, origin: str | None, fetch_site: str | None) -> bool:
    """A form post we should act on: sent by our own pages, not by another site's form.

    Browsers send ``Origin`` on every POST and ``Sec-Fetch-Site`` with it; either one naming another
    site refuses the post.  Requests with neither are not from a browser (curl, tests) and cannot
    carry a victim's cookie against their will.  Only the authority is compared: behind a TLS
    terminator our own scheme is http while the browser's is https.
    """
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if origin is None:
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() and not parts.path
