"""Backend.AI's ``X-BackendAI-Encoded`` request bodies: the Web UI sends its login and its password
change (``/func/auth/update-password``) AES-encrypted with a key made of the endpoint URL and an IV
sent in the clear, which is obfuscation, not secrecy.

The session daemon decodes them (``session_daemon.encoded_body``): it holds the cipher library anyway,
and a front door would otherwise load ~7 MiB of it for the rest of its life at its first encoded login.
One short hop round trip per encoded body (a login, a password change) is the price.
"""

from __future__ import annotations

import base64
import logging

from aiohttp import web

from contract.hosts import canonical_host
from contract.session_commands import MAX_ENCODED_BODY, DecodeBody, encoded_text
from contract.session_results import BodyDecoded
from frontdoor import problems
from frontdoor.daemon_client import SessionDaemonClient, SessionDaemonUnavailable
from frontdoor.json_body import read_body

log = logging.getLogger(__name__)
# A proxied request's plaintext, sent upstream instead of the body the browser sent.
DECODED_BODY = web.RequestKey("decoded_body", bytes)
ENCODED_HEADER = "X-BackendAI-Encoded"
TRUTHY = frozenset({"1", "true", "yes", "on", "t", "y"})


class UndecodableBody(ValueError):
    pass


def is_encoded(header_value: str | None) -> bool:
    return (header_value or "").strip().lower() in TRUTHY


def browser_endpoint(request: web.Request) -> str:
    """The endpoint the Web UI derives the key from (its config.toml's apiEndpoint: this very origin)."""
    return f"{request.scheme}://{canonical_host(request.host)}"


def wire_text(body: bytes) -> str:
    """The body as the hop carries it: stripped printable ASCII; anything else cannot be ours to decode."""
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise UndecodableBody("the body is not ASCII") from None
    if not encoded_text(text):
        raise UndecodableBody("the body is not <iv>:<base64> of bounded size")
    return text


async def decode_body(daemon: SessionDaemonClient, body: bytes, endpoint: str) -> bytes:
    """The plaintext, decoded by the session daemon; an empty body is empty.  UndecodableBody for one that
    does not decode, SessionDaemonUnavailable when no daemon answers."""
    if not body.strip():
        return b""
    result = await daemon.call(DecodeBody(wire_text(body), endpoint))
    if not isinstance(result, BodyDecoded):  # BodyUndecodable (or an InvalidCommand: the same to the browser)
        raise UndecodableBody(type(result).__name__)
    return base64.b64decode(result.body)


def undecodable_body() -> web.Response:
    return problems.bad_request("The encoded request body cannot be decoded.", slug="invalid-api-params")


def carries_encoded_body(request: web.Request) -> bool:
    """Asked of every proxied request, so the cheap tests come first (~0.2 µs for one without a body)."""
    headers = request.headers
    return request.body_exists and ENCODED_HEADER in headers and is_encoded(headers[ENCODED_HEADER])


def decoded_body(request: web.Request) -> bytes | None:
    """The plaintext ``decode_proxied_body`` kept, if any.  ``Request.get`` of a missing key raises and
    catches KeyError (~1.7 µs), so it is asked only of a request that carries an encoded body."""
    return request.get(DECODED_BODY) if carries_encoded_body(request) else None


async def decode_proxied_body(request: web.Request, daemon: SessionDaemonClient) -> web.Response | None:
    """A proxied request with an encoded body (``carries_encoded_body``; Backend.AI's webserver decodes
    every one): its plaintext is kept under DECODED_BODY for the upstream, or the answer is the
    refusal (413 past ``MAX_ENCODED_BODY``, 400 undecodable, 503 without a daemon)."""
    raw = await read_body(request, MAX_ENCODED_BODY)
    try:
        request[DECODED_BODY] = await decode_body(daemon, raw, browser_endpoint(request))
    except UndecodableBody:
        return undecodable_body()
    except SessionDaemonUnavailable:
        log.error("session daemon did not answer", extra={"event": "session_daemon_unavailable", "op": "decode_body"})
        return problems.session_service_down()
    return None
