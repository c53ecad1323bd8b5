"""HTTP/1.1 client framing without a socket: answer heads, chunk sizes, content codings, targets, requests."""

from __future__ import annotations

import gzip
import zlib

import pytest

from service_runtime.http1 import (
    AnswerTooLarge,
    MalformedAnswer,
    chunk_size,
    decoded,
    exchange_once,
    parse_head,
    request_bytes,
    target_of,
)


def test_answer_heads_say_how_the_body_ends_and_whether_the_connection_stays():
    sized = parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12")
    assert (sized.status, sized.length, sized.chunked, sized.keeps_alive) == (200, 12, False, True)
    chunked = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked")
    assert chunked.chunked and chunked.keeps_alive
    assert not parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close").keeps_alive
    assert not parse_head(b"HTTP/1.0 200 OK").keeps_alive  # ends when the member closes
    with pytest.raises(MalformedAnswer):
        parse_head(b"SSH-2.0-OpenSSH_9.2")


def test_answer_heads_keep_their_reason_and_refuse_a_bad_length():
    assert parse_head(b"HTTP/1.1 401 Unauthorized Now\r\nContent-Length: 0").reason == "Unauthorized Now"
    assert parse_head(b"HTTP/1.1 200\r\nContent-Length: 0").reason == ""
    assert parse_head(b"HTTP/1.1 103 Early Hints").informational
    assert parse_head(b"HTTP/1.1 204 No Content").bodiless
    for bad in (b"-1", b"12abc", b"\xb2"):  # "²" is a digit to str.isdigit, not to int()
        with pytest.raises(MalformedAnswer):
            _ = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: " + bad).length


def test_chunk_sizes_are_hexadecimal_with_optional_extensions():
    assert chunk_size(b"1a\r\n") == 26
    assert chunk_size(b"0;ext=1\r\n") == 0
    with pytest.raises(MalformedAnswer):
        chunk_size(b"zz\r\n")


def test_gzip_and_deflate_bodies_are_inflated_within_the_limit():
    text = b'{"data": "x"}'
    assert decoded(text, "", 100) == text
    assert decoded(gzip.compress(text), "gzip", 100) == text
    assert decoded(zlib.compress(text), "deflate", 100) == text
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decoded(raw.compress(text) + raw.flush(), "deflate", 100) == text
    bomb = gzip.compress(b"0" * 10_000_000)  # ~10 KB that inflates to 10 MB
    with pytest.raises(AnswerTooLarge):
        decoded(bomb, "gzip", 1 << 20)
    with pytest.raises(MalformedAnswer):
        decoded(gzip.compress(text)[:-12], "gzip", 100)
    with pytest.raises(MalformedAnswer):
        decoded(text, "br", 100)


def test_targets_give_the_host_header_as_aiohttp_did():
    assert target_of("http://127.0.0.1:8081/auth/authorize") == (
        False,
        "127.0.0.1",
        8081,
        "127.0.0.1:8081",
        "/auth/authorize",
    )
    assert target_of("https://Manager.Example/api/auth/signup").authority == "manager.example"
    assert target_of("https://manager.example/api/auth/signup").path == "/api/auth/signup"
    v6 = target_of("http://[::1]:80/x?y=1")
    assert (v6.host, v6.authority, v6.path) == ("::1", "[::1]", "/x?y=1")
    with pytest.raises(ValueError):
        target_of("ftp://manager.example/")


def test_requests_put_the_host_first_and_refuse_line_breaks_in_headers():
    target = target_of("http://m:81/p")
    raw = request_bytes("POST", target.authority, target.path, [("A", "1"), ("Content-Length", "2")], b"{}")
    assert raw == b"POST /p HTTP/1.1\r\nHost: m:81\r\nA: 1\r\nContent-Length: 2\r\n\r\n{}"
    with pytest.raises(ValueError):
        request_bytes("POST", target.authority, target.path, [("X-Forwarded-Host", "h\r\nX-Injected: 1")], b"")


async def test_an_https_target_is_never_sent_in_clear_text():
    target = target_of("https://127.0.0.1:9/auth/authorize")
    with pytest.raises(ValueError):
        await exchange_once(target, b"POST / HTTP/1.1\r\n\r\n", tls=None, connect_timeout=1.0, limit=100)
