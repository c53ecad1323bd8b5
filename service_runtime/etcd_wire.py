"""etcd's HTTP/JSON gateway (``/v3/...`` on every member's client URL), without a socket: the request
bodies, the answers, the watch stream's lines, the HTTP/1.1 framing and the errors.

The gateway speaks etcd's protobuf messages as JSON: keys and values are base64, 64-bit integers are
strings, and a field at its default (0, false, PUT, empty) is left out of an answer.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterator, NamedTuple

from service_runtime.http1 import request_bytes


class EtcdError(Exception):
    """Anything our etcd client raises."""


class EtcdUnavailable(EtcdError):
    """No member of ``[etcd] addr`` answered (refused, reset, or silent past the timeout)."""


class EtcdRequestError(EtcdError):
    """A member answered, with an error (``code`` is the gRPC status code, e.g. 7: permission denied)."""

    def __init__(self, code: int, message: str, status: int = 0):
        self.code = code
        self.status = status
        super().__init__(message)


class EtcdCompacted(EtcdError):
    """A watch asked for revisions etcd no longer keeps: the watched range must be read again."""

    def __init__(self, compact_revision: int):
        self.compact_revision = compact_revision
        super().__init__(f"revisions up to {compact_revision} were compacted")


INVALID_TOKEN_CODE = 16  # gRPC UNAUTHENTICATED: etcd's "invalid auth token" (expired, or auth re-enabled)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_range_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (etcd's ``--prefix``)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key: the prefix is empty or all 0xff


# --- answers ----------------------------------------------------------------------------------


class Header(NamedTuple):
    revision: int = 0
    raft_term: int = 0

    @classmethod
    def from_json(cls, doc: dict | None) -> Header:
        doc = doc or {}
        return cls(revision=int(doc.get("revision", 0)), raft_term=int(doc.get("raft_term", 0)))


class KeyValue(NamedTuple):
    key: bytes
    value: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0

    @classmethod
    def from_json(cls, doc: dict) -> KeyValue:
        return cls(
            key=unb64(doc.get("key")),
            value=unb64(doc.get("value")),
            create_revision=int(doc.get("create_revision", 0)),
            mod_revision=int(doc.get("mod_revision", 0)),
            version=int(doc.get("version", 0)),
            lease=int(doc.get("lease", 0)),
        )


class RangeResult:
    """The keys of a range read (iterable) and the store's revision at that read."""

    __slots__ = ("header", "kvs", "count")

    def __init__(self, header: Header, kvs: tuple[KeyValue, ...] = (), count: int = 0):
        self.header = header
        self.kvs = kvs
        self.count = count

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self.kvs)

    def __len__(self) -> int:
        return len(self.kvs)


def parse_range(doc: dict) -> RangeResult:
    kvs = tuple(KeyValue.from_json(kv) for kv in doc.get("kvs", ()))
    return RangeResult(Header.from_json(doc.get("header")), kvs, int(doc.get("count", 0)))


class Event(NamedTuple):
    kind: str  # "PUT" or "DELETE"
    kv: KeyValue


class WatchMessage(NamedTuple):
    """One line of a watch stream."""

    revision: int = 0
    created: bool = False
    events: tuple[Event, ...] = ()
    compact_revision: int = 0
    canceled: bool = False
    cancel_reason: str = ""


def parse_watch_line(line: bytes) -> WatchMessage:
    """A watch stream line; an ``error`` line (the stream failed in the gateway) raises."""
    doc = json.loads(line)
    if "error" in doc:
        error = doc["error"]
        raise EtcdRequestError(int(error.get("grpc_code", 0)), str(error.get("message", error)))
    result = doc.get("result", {})
    events = tuple(
        Event(event.get("type", "PUT"), KeyValue.from_json(event["kv"])) for event in result.get("events", ())
    )
    return WatchMessage(
        revision=Header.from_json(result.get("header")).revision,
        created=bool(result.get("created", False)),
        events=events,
        compact_revision=int(result.get("compact_revision", 0)),
        canceled=bool(result.get("canceled", False)),
        cancel_reason=str(result.get("cancel_reason", "")),
    )


class LeaseAnswer(NamedTuple):
    ID: int
    TTL: int  # 0: the lease is gone


def parse_lease(doc: dict) -> LeaseAnswer:
    """A grant's answer, or a keep-alive's (its one ``result``)."""
    doc = doc.get("result", doc)
    return LeaseAnswer(ID=int(doc.get("ID", 0)), TTL=int(doc.get("TTL", 0)))


def error_of(status: int, body: bytes) -> EtcdRequestError:
    """The error of a non-200 answer (``{"error", "code", "message"}``)."""
    try:
        doc = json.loads(body)
        return EtcdRequestError(int(doc.get("code", 0)), str(doc.get("message") or doc.get("error")), status)
    except (ValueError, AttributeError):
        return EtcdRequestError(0, f"HTTP {status}: {body[:200]!r}", status)


# --- requests ---------------------------------------------------------------------------------


def range_request(key: bytes, range_end: bytes | None = None, **options: Any) -> dict:
    body: dict[str, Any] = {"key": b64(key), **options}
    if range_end is not None:
        body["range_end"] = b64(range_end)
    return body


def put_request(key: bytes, value: bytes, lease: int = 0) -> dict:
    body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = str(lease)
    return body


def delete_request(key: bytes, range_end: bytes | None = None) -> dict:
    return range_request(key, range_end)


def watch_create_request(key: bytes, range_end: bytes, start_revision: int) -> dict:
    request: dict[str, Any] = {"key": b64(key), "range_end": b64(range_end)}
    if start_revision > 0:
        request["start_revision"] = str(start_revision)
    return {"create_request": request}


class Compare(NamedTuple):
    key: bytes
    target: str  # VERSION, CREATE, MOD, VALUE, LEASE
    result: str  # EQUAL, GREATER, LESS, NOT_EQUAL
    operand: int | bytes

    def to_json(self) -> dict:
        field_name = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision"}
        field_name |= {"VALUE": "value", "LEASE": "lease"}
        operand = b64(self.operand) if isinstance(self.operand, bytes) else str(self.operand)
        return {"key": b64(self.key), "target": self.target, "result": self.result, field_name[self.target]: operand}


class CompareTarget:
    """``txn.version(key) == 0``: comparisons written as in aetcd."""

    __slots__ = ("key", "target")

    def __init__(self, key: bytes, target: str):
        self.key = key
        self.target = target

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return Compare(self.key, self.target, "EQUAL", other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return Compare(self.key, self.target, "NOT_EQUAL", other)  # type: ignore[arg-type]

    def __gt__(self, other: int | bytes) -> Compare:
        return Compare(self.key, self.target, "GREATER", other)

    def __lt__(self, other: int | bytes) -> Compare:
        return Compare(self.key, self.target, "LESS", other)

    __hash__ = None  # type: ignore[assignment]


class TxnOp(NamedTuple):
    request: dict


class Transactions:
    """Builders for ``EtcdClient.transaction``'s compares and operations."""

    @staticmethod
    def version(key: bytes) -> CompareTarget:
        return CompareTarget(key, "VERSION")

    @staticmethod
    def create(key: bytes) -> CompareTarget:
        return CompareTarget(key, "CREATE")

    @staticmethod
    def mod(key: bytes) -> CompareTarget:
        return CompareTarget(key, "MOD")

    @staticmethod
    def value(key: bytes) -> CompareTarget:
        return CompareTarget(key, "VALUE")

    @staticmethod
    def put(key: bytes, value: bytes, lease: int = 0) -> TxnOp:
        return TxnOp({"request_put": put_request(key, value, lease)})

    @staticmethod
    def delete(key: bytes) -> TxnOp:
        return TxnOp({"request_delete_range": delete_request(key)})

    @staticmethod
    def get(key: bytes) -> TxnOp:
        return TxnOp({"request_range": range_request(key)})


def txn_request(compare: list[Compare], success: list[TxnOp], failure: list[TxnOp]) -> dict:
    return {
        "compare": [c.to_json() for c in compare],
        "success": [op.request for op in success],
        "failure": [op.request for op in failure],
    }


def parse_txn(doc: dict) -> tuple[bool, list[dict]]:
    return bool(doc.get("succeeded", False)), list(doc.get("responses", ()))


# --- HTTP/1.1 framing -------------------------------------------------------------------------


def http_request(host: str, path: str, body: dict, token: str | None = None) -> bytes:
    """A POST with a JSON body, kept alive (``host`` as the Host header: ``name:port``)."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json")]
    if token:
        headers.append(("Authorization", token))
    headers.append(("Content-Length", str(len(payload))))
    return request_bytes("POST", host, path, headers, payload)


class LineSplitter:
    """Cuts a byte stream (a watch answer) into its newline-terminated JSON lines."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        return [line for line in lines if line.strip()]
