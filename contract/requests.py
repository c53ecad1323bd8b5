"""The items carried inside messages to a signer, and the field checks every item shares.

(The session daemon's items: ``contract.session_commands`` and ``contract.session_results``.)

Each item class turns itself into a plain dict (``to_item``) and is rebuilt from one with strict type
and size checks (``from_item``), so a malformed item becomes a ``ValueError`` for that item alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

SIGN = "sign"
SESSION = "session"
# A signer's refusal when Redis cannot be read: every signer shares it, so the front door answers 503.
STORE_UNAVAILABLE = "store_unavailable"

K = TypeVar("K")
MAX_TARGET_LENGTH = 8192
MAX_FIELD_LENGTH = 512
# The id of the browser request an item serves, so every process logs it (letters, digits, '-').
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def valid_request_id(value: object) -> bool:
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


def _text(item: dict[str, Any], name: str, limit: int = MAX_FIELD_LENGTH, *, allow_empty: bool = False) -> str:
    value = item.get(name)
    if not isinstance(value, str) or len(value) > limit or (not value and not allow_empty):
        raise ValueError(f"field {name!r} must be a non-empty string of at most {limit} characters")
    if "\r" in value or "\n" in value or "\0" in value:  # (a generator over the three: ~1 us per field)
        raise ValueError(f"field {name!r} contains a line break or NUL")
    return value


def request_id_of(item: dict[str, Any]) -> str:
    """The optional ``request_id`` (absent or empty: none)."""
    value = item.get("request_id", "")
    if value != "" and not valid_request_id(value):
        raise ValueError("field 'request_id' must be 1-64 letters, digits or '-'")
    return value


# W3C Trace Context (https://www.w3.org/TR/trace-context/): version 00 only, the one we write; lower-case
# hex, no all-zero trace or parent id.  tracestate: at most 32 comma-separated key=value members.
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_TRACESTATE_KEY = re.compile(r"^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})$")
_TRACESTATE_VALUE = re.compile(r"^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$")
MAX_TRACESTATE_LENGTH = 512
MAX_TRACESTATE_MEMBERS = 32


def valid_traceparent(value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _TRACEPARENT.fullmatch(value)
    return match is not None and set(match.group(1)) != {"0"} and set(match.group(2)) != {"0"}


def valid_tracestate(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_TRACESTATE_LENGTH:
        return False
    members = [member.strip(" \t") for member in value.split(",")]
    if len(members) > MAX_TRACESTATE_MEMBERS:
        return False
    keys = set()
    for member in members:
        key, eq, member_value = member.partition("=")
        if not eq or not _TRACESTATE_KEY.fullmatch(key) or not _TRACESTATE_VALUE.fullmatch(member_value) or key in keys:
            return False
        keys.add(key)
    return True


def _trace_context(item: dict[str, Any]) -> tuple[str, str]:
    """The optional ``traceparent`` and ``tracestate`` (absent or empty: none; a tracestate needs a parent)."""
    traceparent, tracestate = item.get("traceparent", ""), item.get("tracestate", "")
    if traceparent != "" and not valid_traceparent(traceparent):
        raise ValueError("field 'traceparent' must be a W3C traceparent of version 00")
    if tracestate != "" and not (traceparent and valid_tracestate(tracestate)):
        raise ValueError("field 'tracestate' must be a W3C tracestate, and comes only with a traceparent")
    return traceparent, tracestate


_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _deployment_name(item: dict[str, Any]) -> str:
    value = item.get("deployment", "manager")
    if value == "manager":  # (nearly every request: a deployment name, without the regular expression)
        return value
    if not isinstance(value, str) or not _DEPLOYMENT_NAME.match(value):
        raise ValueError("field 'deployment' must be a deployment name")
    return value


def kind_of(item: dict[str, Any], key: str, kinds: Mapping[str, K], what: str) -> K:
    """The class that ``item[key]`` names among ``kinds`` (a session command or result, by its tag)."""
    name = item.get(key)
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(f"unknown {what} {name!r}")
    return kind


def checked_field(item: dict[str, Any], name: str, check: Callable[[Any], bool], problem: str) -> Any:
    """``item[name]`` if ``check`` accepts it, else a ``ValueError`` saying ``problem`` (which names the
    field, never its value)."""
    value = item.get(name)
    if not check(value):
        raise ValueError(problem)
    return value


# Request ids come from a counter; below 2**63 they are exact in every JSON codec on the hop (orjson
# reads a larger integer as a float).
MAX_RID = (1 << 63) - 1


def rid_of(item: dict[str, Any]) -> int:
    value = item.get("rid")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RID:
        raise ValueError("field 'rid' must be a non-negative integer below 2**63")
    return value


# The item classes are not frozen: a frozen dataclass sets each field through object.__setattr__, which
# cost a SigningRequest ~1.8 us per request on each side of the hop (of a ~5 us from_item).
@dataclass(slots=True)
class SigningRequest:
    """Metadata of one upstream request; the body never travels (the Manager does not sign it)."""

    rid: int
    session_id: str
    method: str
    target: str  # path?query exactly as it goes on the wire
    host: str  # the Host header we will send
    content_type: str  # lower-case media type, no parameters
    api_version: str
    want_jwt: bool = False
    request_id: str = ""  # the browser request's id, for the signer's logs
    # The Web API Deployment the request goes to: the signer decides from its own view of it whether
    # Backend.AI credentials (the Manager's only) or an identity assertion (audience: this name) apply.
    deployment: str = "manager"
    # W3C trace context of the front door's signing span ([otel] enabled), so the signer's span joins the
    # request's trace; empty (and absent from the item) when tracing is off.
    traceparent: str = ""
    tracestate: str = ""

    def to_item(self, rid: int | None = None) -> dict[str, Any]:
        """The wire dict; ``rid``: the channel's request id in place of ``self.rid``."""
        # Written out rather than dataclasses.asdict, which deep-copies: this is on every request.
        item = {
            "rid": self.rid if rid is None else rid,
            "session_id": self.session_id,
            "method": self.method,
            "target": self.target,
            "host": self.host,
            "content_type": self.content_type,
            "api_version": self.api_version,
            "want_jwt": self.want_jwt,
            "request_id": self.request_id,
            "deployment": self.deployment,
        }
        if self.traceparent:
            item["traceparent"] = self.traceparent
            if self.tracestate:
                item["tracestate"] = self.tracestate
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> SigningRequest:
        want_jwt = item.get("want_jwt", False)
        if not isinstance(want_jwt, bool):
            raise ValueError("field 'want_jwt' must be a boolean")
        method = _text(item, "method", 16)
        if not method.isalpha() or not method.isupper():
            raise ValueError("field 'method' must be an upper-case HTTP method")
        target = _text(item, "target", MAX_TARGET_LENGTH)
        if not target.startswith("/"):
            raise ValueError("field 'target' must start with '/'")
        traceparent, tracestate = _trace_context(item)
        return cls(  # (positional: ~0.3 us less than by keyword; the order of the fields above)
            rid_of(item),
            _text(item, "session_id", 128),
            method,
            target,
            _text(item, "host", 255),
            _text(item, "content_type", 255),
            _text(item, "api_version", 64),
            want_jwt,
            request_id_of(item),
            _deployment_name(item),
            traceparent,
            tracestate,
        )


@dataclass(slots=True)
class SigningReply:
    """Headers to add upstream, or why the signer refused (``error`` is a short machine label)."""

    rid: int
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @staticmethod
    def signed_item(rid: int, headers: dict[str, str]) -> dict[str, Any]:
        """``SigningReply(rid, headers).to_item()`` without building the reply (every signed request)."""
        return {"rid": rid, "headers": headers}

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"rid": self.rid}
        if self.error is None:
            item["headers"] = self.headers
        else:
            item["error"] = self.error
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> SigningReply:
        rid = rid_of(item)
        error = item.get("error")
        if error is not None:
            return cls(rid, error=_text(item, "error", 64))
        headers = item.get("headers")
        if not isinstance(headers, dict):
            raise ValueError("field 'headers' must map strings to strings")
        for name, value in headers.items():  # (a loop: all() over a generator costs ~0.5 us more)
            if not isinstance(name, str) or not isinstance(value, str):
                raise ValueError("field 'headers' must map strings to strings")
        return cls(rid, headers)
