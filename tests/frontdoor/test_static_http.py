"""Static hosting over real HTTP (an aiohttp server on loopback): conditional GET, precompressed
variants, SPA and plain modes, and traversal attempts sent byte for byte on a raw socket."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.config_sections import DEFAULT_CSP
from frontdoor.error_pages import error_page_middleware
from frontdoor.security_headers import CSP_NONCE
from frontdoor.static import StaticFiles
from frontdoor.static_rules import IMMUTABLE, NO_STORE

APP_JS = b"console.log('app');\n" * 50


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    (root / "static" / "js").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "index.html").write_text("<!doctype html><title>shell</title>")
    (root / "docs" / "index.html").write_text("<p>docs</p>")
    (root / "static" / "js" / "main.9ba6c6fd.js").write_bytes(APP_JS)
    (root / "static" / "js" / "main.9ba6c6fd.js.gz").write_bytes(gzip.compress(APP_JS))
    (root / "static" / "js" / "main.9ba6c6fd.js.br").write_bytes(b"pretend-brotli")
    (root / "app.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "app.css.gz").write_bytes(gzip.compress(b"stolen"))
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(tmp_path / "app.css.gz", root / "app.css.gz")  # a variant escaping the root
    return root


@web.middleware
async def fixed_nonce(request, handler):
    request[CSP_NONCE] = "n0nce"  # what the security middleware does, with a known value
    return await handler(request)


async def serve(handler: StaticFiles) -> TestServer:
    app = web.Application(middlewares=[error_page_middleware, fixed_nonce])
    handler.register(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def spa(site):
    server = await serve(StaticFiles(site, spa_fallback=True))
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        yield client, server
    await server.close()


@pytest.fixture
async def plain(site):
    server = await serve(StaticFiles(site, spa_fallback=False))
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        yield client, server
    await server.close()


async def test_etag_and_last_modified_give_304(spa):
    client, server = spa
    url = server.make_url("/static/js/main.9ba6c6fd.js")
    async with client.get(url, headers={"Accept-Encoding": "identity"}) as response:
        assert response.status == 200
        assert await response.read() == APP_JS
        etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["Vary"] == "Accept-Encoding"
    async with client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "identity"}) as response:
        assert response.status == 304
        assert await response.read() == b""
    async with client.get(url, headers={"If-Modified-Since": modified, "Accept-Encoding": "identity"}) as response:
        assert response.status == 304
    async with client.get(url, headers={"If-None-Match": '"other"', "Accept-Encoding": "identity"}) as response:
        assert response.status == 200


async def test_precompressed_variants_follow_accept_encoding(spa):
    client, server = spa
    url = server.make_url("/static/js/main.9ba6c6fd.js")
    async with client.get(url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
        assert gzip.decompress(await response.read()) == APP_JS
    async with client.get(url, headers={"Accept-Encoding": "gzip, br"}) as response:
        assert response.headers["Content-Encoding"] == "br"
        assert await response.read() == b"pretend-brotli"
    async with client.get(url, headers={"Accept-Encoding": "br;q=0, gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"


async def test_a_variant_symlinked_outside_the_root_is_never_served(spa):
    client, server = spa
    async with client.get(server.make_url("/app.css"), headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status == 200
        assert "Content-Encoding" not in response.headers
        assert await response.read() == b"body{}"


async def test_spa_mode_serves_the_shell_for_routes_but_404_for_missing_files(spa):
    client, server = spa
    async with client.get(server.make_url("/session/list")) as response:
        assert response.status == 200
        assert b"shell" in await response.read()
        assert response.headers["Cache-Control"] == NO_STORE
    async with client.get(server.make_url("/")) as response:
        assert b"shell" in await response.read()
    async with client.get(server.make_url("/missing-9ba6c6fd.js")) as response:
        assert response.status == 404
        assert response.content_type == "text/plain"
    async with client.get(server.make_url("/func/nothing"), headers={"Accept": "text/html"}) as response:
        assert response.status == 404  # API paths never get the app shell


async def test_plain_mode_has_no_fallback_but_serves_directory_indexes(plain):
    client, server = plain
    async with client.get(server.make_url("/session/list")) as response:
        assert response.status == 404
    async with client.get(server.make_url("/docs/")) as response:
        assert response.status == 200
        assert await response.read() == b"<p>docs</p>"
        assert response.headers["Cache-Control"] == NO_STORE


async def test_browsers_get_an_error_page_and_scripts_problem_json(plain):
    client, server = plain
    async with client.get(server.make_url("/nothing-here"), headers={"Accept": "text/html,*/*;q=0.8"}) as response:
        assert response.status == 404
        assert response.content_type == "text/html"
        body = await response.text()
        assert 'id="error-code">404<' in body
    async with client.get(server.make_url("/nothing-here")) as response:
        assert response.status == 404
        assert (await response.json())["type"] == "https://api.backend.ai/probs/generic-not-found"


SHELL, PAGE, PLAIN, PROBLEM = "shell", "error page", "plain 404", "problem+json"
MONOKAI = "/node_modules/highlight.js/styles/monokai.css"  # referenced by the 23.09 bundle, not shipped
NAVIGATE = {
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
}
OLD_NAVIGATE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # no Sec-Fetch-* headers
STYLESHEET = {"Accept": "text/css,*/*;q=0.1", "Sec-Fetch-Dest": "style", "Sec-Fetch-Mode": "no-cors"}
SCRIPT = {"Accept": "*/*", "Sec-Fetch-Dest": "script"}
IMAGE = {"Accept": "image/avif,image/webp,*/*;q=0.8", "Sec-Fetch-Dest": "image"}
FETCH_JSON = {"Accept": "application/json", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}
CURL = {"Accept": "*/*"}

# (SPA mode, path, request headers, answer)
MISSING = [
    (True, MONOKAI, STYLESHEET, PLAIN),
    (True, MONOKAI, NAVIGATE, SHELL),  # a page load: the app shell, as Backend.AI answers
    (True, MONOKAI, OLD_NAVIGATE, SHELL),
    (True, MONOKAI, FETCH_JSON, PLAIN),
    (True, MONOKAI, CURL, PLAIN),
    (True, "/static/js/main.0badc0de.js", SCRIPT, PLAIN),
    (True, "/resources/missing.png", IMAGE, PLAIN),
    (True, "/resources/missing-image", IMAGE, PLAIN),  # a subresource never gets the shell
    (True, "/summary", NAVIGATE, SHELL),
    (True, "/summary", FETCH_JSON, SHELL),  # extension-less: a client-side route
    (False, MONOKAI, STYLESHEET, PLAIN),
    (False, MONOKAI, NAVIGATE, PAGE),
    (False, MONOKAI, CURL, PLAIN),
    (False, "/static/js/main.0badc0de.js", SCRIPT, PLAIN),
    (False, "/nothing-here", NAVIGATE, PAGE),
    (False, "/nothing-here", FETCH_JSON, PROBLEM),
    (False, "/nothing-here", CURL, PROBLEM),
]


@pytest.mark.parametrize("spa_mode, path, headers, answer", MISSING)
async def test_a_missing_file_is_answered_by_what_asked_for_it(site, spa_mode, path, headers, answer):
    server = await serve(StaticFiles(site, spa_fallback=spa_mode))
    try:
        async with aiohttp.ClientSession() as client, client.get(server.make_url(path), headers=headers) as response:
            body = await response.text()
            if answer == SHELL:
                assert response.status == 200 and response.content_type == "text/html" and "shell" in body
                assert response.headers["Cache-Control"] == NO_STORE
            elif answer == PAGE:
                assert response.status == 404 and response.content_type == "text/html"
                assert 'id="error-code">404<' in body
            elif answer == PLAIN:
                assert response.status == 404 and response.content_type == "text/plain"
                assert body == "404: Not Found\n"
            else:
                assert response.status == 404 and response.content_type == "application/problem+json"
    finally:
        await server.close()


async def raw_get(server: TestServer, target: str) -> tuple[int, bytes]:
    """Send the request line exactly as given: no client-side normalisation of dots or escapes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/static/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/static%2F..%2F..%2Fsecret.txt",
        "/..%5Csecret.txt",
        "/static\\..\\..\\secret.txt",
        "/%252e%252e/secret.txt",
        "/leak.txt",
        "/index.html%00.js",
        "/.%2e/secret.txt",
    ],
)
async def test_traversal_attempts_never_reach_files_outside_the_root(plain, target):
    _, server = plain
    status, body = await raw_get(server, target)
    assert status in (400, 404)
    assert b"top secret" not in body


async def test_bundle_pages_get_a_policy_their_inline_scripts_can_run_under(site):
    (site / "modern.html").write_text('<script nonce="{{nonce}}">go()</script>')
    server = await serve(StaticFiles(site, spa_fallback=True, page_policy=DEFAULT_CSP))
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(server.make_url("/")) as response:
                policy = response.headers["Content-Security-Policy"]
                assert "'unsafe-inline'" in policy.split("script-src", 1)[1].split(";")[0]
                assert "nonce" not in policy
            async with client.get(server.make_url("/modern.html")) as response:
                assert await response.text() == '<script nonce="n0nce">go()</script>'
                assert "Content-Security-Policy" not in response.headers  # the site's nonce policy applies
                assert response.headers["Cache-Control"] == NO_STORE
            async with client.get(server.make_url("/app.css")) as response:
                assert "Content-Security-Policy" not in response.headers
    finally:
        await server.close()
