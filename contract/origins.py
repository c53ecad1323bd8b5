"""Web origins (``scheme://host[:port]``) as the CORS allow-list and the CSRF check compare them.

Pure functions: the configuration validates its allow-list with ``parse_allowed_origin`` and the
front door matches a browser's ``Origin`` header with ``OriginPolicy.allows``.  Both sides are
normalised (lower case, default port dropped), and anything that is not a bare origin is refused
rather than guessed at: a path, user info, blanks, ``null``, or a wildcard anywhere but the
left-most label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PORTS = {"http": "80", "https": "443"}
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\]"
_ORIGIN_RE = re.compile(rf"^(https?)://({_HOST})(?::([0-9]{{1,5}}))?$")
_WILDCARD_RE = re.compile(rf"^(https?)://\*\.({_LABEL}(?:\.{_LABEL})+)(?::([0-9]{{1,5}}))?$")


@dataclass(frozen=True, slots=True)
class AllowedOrigin:
    """One allow-list entry: an exact origin, or every subdomain of ``host`` (not ``host`` itself)."""

    scheme: str
    host: str
    port: str
    wildcard: bool = False

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def _port(scheme: str, port: str | None) -> str | None:
    port = port or DEFAULT_PORTS[scheme]
    return port if 0 < int(port) <= 65535 else None


def parse_origin(text: str | None) -> tuple[str, str, str] | None:
    """``(scheme, host, port)`` of a serialised origin, or None if ``text`` is not exactly one."""
    if not text or len(text) > 300:
        return None
    match = _ORIGIN_RE.match(text.lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    port = _port(scheme, port)
    return None if port is None else (scheme, host, port)


def normalise_origin(text: str | None) -> str | None:
    """The canonical form of an origin (``https://a.example.com``), or None if it is not one."""
    parsed = parse_origin(text)
    return None if parsed is None else str(AllowedOrigin(*parsed))


def parse_allowed_origin(text: str) -> AllowedOrigin:
    """An allow-list entry; raises ValueError saying what is wrong with it."""
    cleaned = text.strip().rstrip("/").lower()
    wildcard = _WILDCARD_RE.match(cleaned)
    if wildcard is not None:
        scheme, host, port = wildcard.groups()
        checked_port = _port(scheme, port)
        if checked_port is not None:
            return AllowedOrigin(scheme, host, checked_port, wildcard=True)
    else:
        parsed = parse_origin(cleaned)
        if parsed is not None:
            return AllowedOrigin(*parsed)
    raise ValueError(
        f"{text!r} is not an origin: write scheme://host[:port] (https://app.example.com) or "
        "scheme://*.domain[:port] for its subdomains; no path, no '*' alone"
    )


class OriginPolicy:
    """The allow-list as a matcher."""

    def __init__(self, entries: list[AllowedOrigin]):
        self._exact = frozenset((e.scheme, e.host, e.port) for e in entries if not e.wildcard)
        self._wildcards = tuple((e.scheme, "." + e.host, e.port) for e in entries if e.wildcard)

    @classmethod
    def from_strings(cls, texts: list[str]) -> OriginPolicy:
        return cls([parse_allowed_origin(text) for text in texts])

    def __bool__(self) -> bool:
        return bool(self._exact or self._wildcards)

    def allows(self, origin: str | None) -> bool:
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        if parsed in self._exact:
            return True
        scheme, host, port = parsed
        return any(
            scheme == w_scheme and port == w_port and host.endswith(suffix) and len(host) > len(suffix)
            for w_scheme, suffix, w_port in self._wildcards
        )
