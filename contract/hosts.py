"""Which ``Host`` headers the front door answers: its configured public hosts and loopback, no other.

The Host header is chosen by whoever sends the request.  Without this check a request naming
another site (``Host: evil.com``), or a DNS-rebinding page, would have that name reflected into
``/config.toml``'s ``apiEndpoint`` (which the Web UI then sends its API calls and the user's
password to), into the HTTP->HTTPS redirect, and into the origin the CSRF check takes for ours.

A request whose Host is not a syntactically valid ``host[:port]`` (empty, missing, several, with
userinfo, spaces or control characters) gets 400 (RFC 9112 §3.2); one naming a host that is not
ours gets 421 Misdirected Request (RFC 9110 §15.5.20).  Accepted are:

* ``[service] public_hosts``: ``name`` (any port) or ``name:port`` (that port only); IP literals
  are written as in a URL (``10.0.0.5``, ``[2001:db8::1]``);
* ``[service] ip`` when it is one address (not ``0.0.0.0``/``::``), on any port;
* loopback, for development: ``localhost``, ``127.0.0.0/8`` and ``[::1]``, on any port.

Names are compared lower-cased and exactly: ``example.com.`` (trailing dot) is another name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")  # a trailing dot is valid (a fully qualified name)
_PORT_RE = re.compile(r"^[0-9]{1,5}$")
LOOPBACK_NAMES = frozenset({"localhost"})
MAX_REMEMBERED_HOSTS = 1024  # verdicts kept per policy; past it, a Host is judged anew each time


@dataclass(frozen=True)
class HostPort:
    host: str  # lower-cased; IPv6 literals keep their brackets, in compressed form
    port: int | None


def parse_host(value: str | None) -> HostPort | None:
    """``host[:port]`` of a Host header (or a configured entry); None when it is not exactly that."""
    if not value or value != value.strip() or len(value) > 300:
        return None
    text = value.lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        try:
            address = ipaddress.IPv6Address(text[1:end])
        except ValueError:
            return None
        host, rest = f"[{address.compressed}]", text[end + 1 :]
    else:
        host, sep, port_text = text.partition(":")
        rest = sep + port_text
        if not _NAME_RE.match(host):
            return None
    port = None
    if rest:
        if not rest.startswith(":") or not _PORT_RE.match(rest[1:]) or not 0 < int(rest[1:]) < 65536:
            return None
        port = int(rest[1:])
    return HostPort(host, port)


def canonical_host(value: str) -> str:
    """``host[:port]`` lower-cased, IPv6 compressed: how /config.toml names the endpoint the browser
    used, and so the key the Web UI encodes its login body with.  Unparseable values are returned as given."""
    parsed = parse_host(value)
    if parsed is None:
        return value
    return parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """The hosts of ``[service] public_hosts`` and ``[service] ip``, plus loopback."""

    def __init__(self, public_hosts: list[str], listen_ip: str | None = None):
        self._any_port: set[str] = set()
        self._exact: set[tuple[str, int]] = set()
        self._verdicts: dict[str, int | None] = {}  # Host value -> its verdict (the policy never changes)
        for entry in public_hosts:
            parsed = parse_host(entry)
            if parsed is None:
                raise ValueError(f"{entry!r} is not a host name or host:port")
            if parsed.port is None:
                self._any_port.add(parsed.host)
            else:
                self._exact.add((parsed.host, parsed.port))
        if listen_ip:
            try:
                address = ipaddress.ip_address(listen_ip)
            except ValueError:
                address = None
            if address is not None and not address.is_unspecified:
                self._any_port.add(f"[{address.compressed}]" if address.version == 6 else address.compressed)

    @classmethod
    def for_config(cls, config) -> HostPolicy:
        return cls(config.service.public_hosts, config.service.ip)

    def accepts(self, parsed: HostPort) -> bool:
        return (
            is_loopback(parsed.host)
            or parsed.host in self._any_port
            or (parsed.port is not None and (parsed.host, parsed.port) in self._exact)
        )

    def verdict(self, values: list[str]) -> int | None:
        """For the Host header values of a request: None when we answer it; 400 for a missing,
        repeated or malformed Host; 421 for another site's."""
        if len(values) != 1:
            return 400
        value = values[0]
        if value in self._verdicts:  # every request asks; a browser sends the same few values
            return self._verdicts[value]
        parsed = parse_host(value)
        verdict = 400 if parsed is None else None if self.accepts(parsed) else 421
        if len(self._verdicts) < MAX_REMEMBERED_HOSTS:  # values a client makes up cannot grow it
            self._verdicts[value] = verdict
        return verdict


def public_hosts_problem(entries: list[str]) -> str | None:
    """What is wrong with a ``public_hosts`` list (for the configuration check), or None."""
    for entry in entries:
        if parse_host(entry) is None:
            return f"{entry!r} is not a host name or host:port (IPv6 in brackets, no scheme, no path)"
    return None
