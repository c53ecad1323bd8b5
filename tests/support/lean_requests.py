"""Requests through the lean client the way the proxy sends them (``LeanExchange.exchange``):
``fields_wire`` of the request's fields, then ``LeanClient.send_wire``."""

from __future__ import annotations

from collections.abc import Iterable

from yarl import URL

from frontdoor.lean_client import LeanClient, endpoint_of, fields_wire
from frontdoor.upstream import Fields
from frontdoor.upstream_wire import UpstreamConnection


def fields_of(headers: Iterable[tuple[str, str]]) -> Fields:
    """``headers`` as ``Prework.fields`` holds them: by lower-cased name, the name as spelled and its value."""
    return {name.lower(): (name, value) for name, value in headers}


async def send(
    client: LeanClient,
    method: str,
    url: URL,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    deadline: float | None = None,
) -> UpstreamConnection:
    wire = fields_wire(method, target, fields_of(headers), body)
    return await client.send_wire(endpoint_of(url), method, wire, deadline)
