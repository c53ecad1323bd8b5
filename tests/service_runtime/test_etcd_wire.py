"""etcd's gateway without a socket: request bodies, answers, watch lines (HTTP framing: test_http1.py)."""

from __future__ import annotations

import base64
import json

import pytest

from service_runtime.etcd_http import Endpoint, parse_endpoint
from service_runtime.etcd_wire import (
    EtcdRequestError,
    LineSplitter,
    Transactions,
    error_of,
    http_request,
    parse_lease,
    parse_range,
    parse_txn,
    parse_watch_line,
    prefix_range_end,
    put_request,
    range_request,
    txn_request,
    watch_create_request,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("prefix", "end"),
    [(b"/webui-host/", b"/webui-host0"), (b"a\xff", b"b"), (b"a\xff\xff", b"b"), (b"\xff", b"\0"), (b"", b"\0")],
)
def test_the_range_end_of_a_prefix_is_the_first_key_after_it(prefix, end):
    assert prefix_range_end(prefix) == end


def test_requests_carry_keys_and_values_in_base64_and_integers_as_strings():
    assert range_request(b"/k", b"/l", limit=1) == {"key": b64(b"/k"), "range_end": b64(b"/l"), "limit": 1}
    assert put_request(b"/k", b"\x00v") == {"key": b64(b"/k"), "value": b64(b"\x00v")}
    assert put_request(b"/k", b"v", lease=7)["lease"] == "7"
    assert watch_create_request(b"/p/", b"/p0", 12) == {
        "create_request": {"key": b64(b"/p/"), "range_end": b64(b"/p0"), "start_revision": "12"}
    }


def test_compares_are_written_as_with_aetcd_and_encoded_for_the_gateway():
    txn = Transactions
    body = txn_request(
        [txn.version(b"/k") == 0, txn.mod(b"/k") == 41, txn.value(b"/k") != b"x", txn.create(b"/k") < 3],
        [txn.put(b"/k", b"new")],
        [txn.get(b"/k")],
    )
    assert body["compare"] == [
        {"key": b64(b"/k"), "target": "VERSION", "result": "EQUAL", "version": "0"},
        {"key": b64(b"/k"), "target": "MOD", "result": "EQUAL", "mod_revision": "41"},
        {"key": b64(b"/k"), "target": "VALUE", "result": "NOT_EQUAL", "value": b64(b"x")},
        {"key": b64(b"/k"), "target": "CREATE", "result": "LESS", "create_revision": "3"},
    ]
    assert body["success"] == [{"request_put": {"key": b64(b"/k"), "value": b64(b"new")}}]
    assert body["failure"] == [{"request_range": {"key": b64(b"/k")}}]


def test_answers_leave_out_fields_at_their_default():
    # A failed transaction has no "succeeded"; an empty range no "kvs"; an expired lease no "TTL".
    assert parse_txn({"header": {"revision": "5"}}) == (False, [])
    empty = parse_range({"header": {"revision": "9"}})
    assert (list(empty), empty.header.revision) == ([], 9)
    found = parse_range({"header": {"revision": "9"}, "kvs": [{"key": b64(b"/a"), "mod_revision": "8"}], "count": "1"})
    assert [(kv.key, kv.value, kv.mod_revision, kv.version) for kv in found] == [(b"/a", b"", 8, 0)]
    assert parse_lease({"result": {"ID": "12"}}).TTL == 0
    assert parse_lease({"ID": "12", "TTL": "10"}).TTL == 10


def test_watch_lines_put_is_the_default_event_type():
    line = json.dumps(
        {
            "result": {
                "header": {"revision": "7"},
                "events": [
                    {"kv": {"key": b64(b"/p/a"), "value": b64(b"1"), "mod_revision": "6"}},
                    {"type": "DELETE", "kv": {"key": b64(b"/p/b"), "mod_revision": "7"}},
                ],
            }
        }
    ).encode()
    message = parse_watch_line(line)
    assert [(e.kind, e.kv.key, e.kv.value, e.kv.mod_revision) for e in message.events] == [
        ("PUT", b"/p/a", b"1", 6),
        ("DELETE", b"/p/b", b"", 7),
    ]
    created = parse_watch_line(b'{"result":{"header":{"revision":"3"},"created":true}}')
    assert created.created and not created.events and created.revision == 3


def test_a_watch_on_compacted_revisions_is_canceled_with_the_compact_revision():
    message = parse_watch_line(b'{"result":{"header":{"revision":"9"},"compact_revision":"8","canceled":true}}')
    assert (message.canceled, message.compact_revision) == (True, 8)


def test_an_error_line_in_a_stream_raises():
    with pytest.raises(EtcdRequestError) as raised:
        parse_watch_line(b'{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token"}}')
    assert raised.value.code == 16


def test_error_answers_keep_the_grpc_code():
    error = error_of(
        401, b'{"error":"etcdserver: invalid auth token","code":16,"message":"etcdserver: invalid auth token"}'
    )
    assert (error.status, error.code, str(error)) == (401, 16, "etcdserver: invalid auth token")
    assert error_of(502, b"<html>bad gateway</html>").code == 0


def test_a_request_is_a_post_with_a_json_body_and_the_token_as_authorization():
    raw = http_request("127.0.0.1:2379", "/v3/kv/range", {"key": "L2s="}, token="tok.1")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v3/kv/range HTTP/1.1"
    assert {"Host: 127.0.0.1:2379", "Authorization: tok.1", f"Content-Length: {len(body)}"} <= set(lines)
    assert json.loads(body) == {"key": "L2s="}
    assert b"Authorization" not in http_request("h:1", "/v3/kv/range", {})


def test_watch_lines_are_cut_across_chunks():
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":') == []
    assert splitter.feed(b'1}\n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":2}\n\n") == [b'{"b":2}']


def test_endpoints_with_ipv6_literals():
    assert parse_endpoint("[::1]:2379") == Endpoint("::1", 2379)
    assert parse_endpoint("[::1]:2379").authority == "[::1]:2379"
    assert parse_endpoint("etcd-0.etcd:2379").authority == "etcd-0.etcd:2379"
