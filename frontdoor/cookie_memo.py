"""One cookie's value, parsed once per connection while the browser sends the same ``Cookie`` header.

``request.cookies`` parses every cookie of the header into a ``Morsel`` on every request (~6 µs for
one cookie, ~20 µs for a browser's five), for the one cookie the front door reads.  A keep-alive
connection sends the same header request after request, and the value is a function of the header
and the name alone, so the last (header, name, value) is kept per connection and reused while both
match: the value aiohttp gives, parsed by aiohttp.  Whether the session is live is decided later,
every time, by the session reader; this only saves the parsing (and, for ``value_with``, one function
of the value, the session's hash).

Entries are keyed by the connection's transport's ``id`` and hold a weak reference to it, whose
callback removes the entry when the transport is collected: one lives no longer than its connection,
so no cookie stays in memory after the connection that carried it is gone, and an ``id`` is never
reused while its entry is there.  (A ``WeakKeyDictionary`` did the same with a new weak reference
made per look-up.)  A transport that takes no weak reference (uvloop's TLS transport) gets no entry:
parsed per request.
"""

from __future__ import annotations

import weakref
from typing import Callable

from aiohttp import hdrs, web

_NOT_YET = object()  # an entry's derived value before ``value_with`` first asks for it


class CookieMemo:
    def __init__(self) -> None:
        # id(transport) -> [weak reference to it, header, name, value, derived value or _NOT_YET]
        self._last: dict[int, list] = {}

    def __len__(self) -> int:
        return len(self._last)

    def value(self, request: web.Request, name: str) -> str | None:
        """``request.cookies.get(name)``, parsed again only when the connection's header or ``name`` changed."""
        entry = self._entry(request, name)
        return request.cookies.get(name) if entry is None else entry[3]

    def value_with(
        self, request: web.Request, name: str, derive: Callable[[str], str]
    ) -> tuple[str | None, str | None]:
        """``value`` and ``derive`` of it (None for no value), derived once per connection and value;
        ``derive`` must be one pure function for every call of this memo (the session's hash)."""
        entry = self._entry(request, name)
        if entry is None:
            value = request.cookies.get(name)
            return value, None if value is None else derive(value)
        derived = entry[4]
        if derived is _NOT_YET:
            derived = entry[4] = None if entry[3] is None else derive(entry[3])
        return entry[3], derived

    def _entry(self, request: web.Request, name: str) -> list | None:
        """The connection's entry for its current header and ``name`` (made if need be), or None
        when the transport takes no weak reference (or there is none)."""
        header = request.headers.get(hdrs.COOKIE, "")
        transport = request.transport
        if transport is None:
            return None
        key = id(transport)
        entry = self._last.get(key)
        if entry is not None and entry[0]() is transport:
            if entry[1] == header and entry[2] == name:
                return entry
            reference = entry[0]
        else:
            try:
                reference = weakref.ref(transport, self._forgetter(key))
            except TypeError:  # a transport without weak references: parsed per request, as before
                return None
        entry = self._last[key] = [reference, header, name, request.cookies.get(name), _NOT_YET]
        return entry

    def _forgetter(self, key: int) -> Callable[[weakref.ref], None]:
        def forget(reference: weakref.ref) -> None:
            entry = self._last.get(key)
            if entry is not None and entry[0] is reference:  # (not a newer transport's entry)
                del self._last[key]

        return forget
