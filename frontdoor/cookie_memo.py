"""One cookie's value, parsed once per connection while the browser sends the same ``Cookie`` header.

``request.cookies`` parses every cookie of the header into a ``Morsel`` on every request (~6 µs for
one cookie, ~20 µs for a browser's five), for the one cookie the front door reads.  A keep-alive
connection sends the same header request after request, and the value is a function of the header
and the name alone, so the last (header, name, value) is kept per connection and reused while both
match: the value aiohttp gives, parsed by aiohttp.  Whether the session is live is decided later,
every time, by the session reader; this only saves the parsing (and, for ``value_with``, one function
of the value, the session's hash).

Entries are kept per connection (``PerConnection``: keyed by the transport's ``id``, with a weak
reference to it whose callback removes the entry when the transport is collected): one lives no
longer than its connection, so no cookie stays in memory after the connection that carried it is
gone.  (A ``WeakKeyDictionary`` did the same with a new weak reference made per look-up.)  A transport
that takes no weak reference (uvloop's TLS transport) gets no entry: parsed per request.
"""

from __future__ import annotations

import weakref
from typing import Callable

from aiohttp import hdrs, web

_NOT_YET = object()  # an entry's derived value before ``value_with`` first asks for it


class PerConnection:
    """Values kept per connection: keyed by the transport's ``id``, each with a weak reference to the
    transport whose callback drops the value when the transport is collected (so an ``id`` is never
    reused while its value is here).  A transport without weak references keeps nothing."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[weakref.ref, object]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, transport: object) -> object:
        """The value kept for ``transport``, or ``None``."""
        entry = self._values.get(id(transport))
        return entry[1] if entry is not None and entry[0]() is transport else None

    def put(self, transport: object, value: object) -> None:
        key = id(transport)
        entry = self._values.get(key)
        if entry is not None and entry[0]() is transport:
            reference = entry[0]
        else:
            try:
                reference = weakref.ref(transport, self._forgetter(key))
            except TypeError:  # no weak references (uvloop's TLS transport): nothing kept
                return
        self._values[key] = (reference, value)

    def _forgetter(self, key: int) -> Callable[[weakref.ref], None]:
        def forget(reference: weakref.ref) -> None:
            entry = self._values.get(key)
            if entry is not None and entry[0] is reference:  # (not a newer transport's entry)
                del self._values[key]

        return forget


class CookieMemo:
    def __init__(self) -> None:
        self._last = PerConnection()  # per connection: [header, name, value, derived value or _NOT_YET]

    def __len__(self) -> int:
        return len(self._last)

    def value(self, request: web.Request, name: str) -> str | None:
        """``request.cookies.get(name)``, parsed again only when the connection's header or ``name`` changed."""
        entry = self._entry(request, name)
        return request.cookies.get(name) if entry is None else entry[2]

    def value_with(
        self, request: web.Request, name: str, derive: Callable[[str], str]
    ) -> tuple[str | None, str | None]:
        """``value`` and ``derive`` of it (None for no value), derived once per connection and value;
        ``derive`` must be one pure function for every call of this memo (the session's hash)."""
        entry = self._entry(request, name)
        if entry is None:
            value = request.cookies.get(name)
            return value, None if value is None else derive(value)
        derived = entry[3]
        if derived is _NOT_YET:
            derived = entry[3] = None if entry[2] is None else derive(entry[2])
        return entry[2], derived

    def _entry(self, request: web.Request, name: str) -> list | None:
        """The connection's entry for its current header and ``name`` (made if need be), or None
        when the transport takes no weak reference (or there is none)."""
        header = request.headers.get(hdrs.COOKIE, "")
        transport = request.transport
        if transport is None:
            return None
        entry = self._last.get(transport)
        if entry is not None and entry[0] == header and entry[1] == name:
            return entry
        entry = [header, name, request.cookies.get(name), _NOT_YET]
        self._last.put(transport, entry)
        return entry if self._last.get(transport) is entry else None
