"""What a browser meets at the edge, through the real stack over HTTPS: TLS, HSTS and the redirect
port, security headers and the CSP nonce, no Server header, CORS, CSRF and input checks."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from yarl import URL

from tests.e2e.security.conftest import fresh_address, log_in
from tests.support.stack import ADMIN_USER

pytestmark = pytest.mark.slow

ALLOWED = "https://console.example.com"
ALLOWED_WILDCARD = "https://team-a.apps.example.com"
EVIL = "https://evil.example.net"


def assert_no_server_header(headers) -> None:
    assert "Server" not in headers, headers.get("Server")


# ---- TLS ----


async def test_https_login_sets_a_secure_cookie_and_hsts(visitor, secure_stack):
    async with visitor.post(
        "/server/login",
        json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]},
        headers={"X-Forwarded-For": fresh_address()},
    ) as response:
        assert response.status == 200
        set_cookie = response.headers["Set-Cookie"]
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    async with visitor.get("/func/auth?echo=tls") as response:
        assert response.status == 200 and (await response.json())["echo"] == "tls"
        assert "Strict-Transport-Security" in response.headers


async def test_plain_http_port_redirects_to_https_and_sets_nothing(secure_stack):
    async with aiohttp.ClientSession() as plain:
        url = f"http://127.0.0.1:{secure_stack.redirect_port}/ui/login?next=/ui/"
        async with plain.get(url, allow_redirects=False) as response:
            assert response.status == 308
            assert response.headers["Location"] == f"{secure_stack.base_url}/ui/login?next=/ui/"
            assert "Set-Cookie" not in response.headers and "Strict-Transport-Security" not in response.headers
            assert_no_server_header(response.headers)
        async with plain.post(
            f"http://127.0.0.1:{secure_stack.redirect_port}/server/login", json={}, allow_redirects=False
        ) as response:
            assert response.status == 308  # 308 keeps the method: the browser re-posts over HTTPS


# ---- security headers ----


async def test_pages_get_a_fresh_nonce_in_their_policy(visitor):
    nonces = []
    for _ in range(2):
        async with visitor.get("/index.html") as response:
            assert response.status == 200 and response.content_type == "text/html"
            policy = response.headers["Content-Security-Policy"]
            nonces += re.findall(r"'nonce-([A-Za-z0-9_-]{22,})'", policy)
            assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert_no_server_header(response.headers)
    assert len(nonces) == 2 and nonces[0] != nonces[1]


@pytest.mark.parametrize(
    "path",
    [
        "/func/auth?echo=x",
        "/func/dev/download?size=300000",
        "/func/stream/kernel/_/events?n=1&interval=0.01",
        "/func/no/such/endpoint",
        "/server/login-check",
        "/no/such/page",
        "/ui/login",
    ],
)
async def test_every_response_has_the_protective_headers_and_no_server(admin, path):
    method = "POST" if path == "/server/login-check" else "GET"
    async with admin.request(method, path) as response:
        await response.read()
        assert_no_server_header(response.headers)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        if path.startswith(("/func/", "/server/")):
            assert "Origin" in response.headers["Vary"]


async def test_websocket_handshake_has_no_server_header(admin):
    async with admin.ws_connect("/func/stream/echo") as ws:
        assert_no_server_header(ws._response.headers)
        await ws.send_str("x")
        assert (await ws.receive(timeout=5)).data == "x"


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /ui/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400),
        (b"GET /ui/ HTTP/1.1\r\nHost: x\r\nX-A: a\rSet-Cookie: x=1\r\n\r\n", 400),
        (b"GET /ui/ HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", 400),
    ],
)
async def test_unparseable_requests_get_400_without_a_server_header(secure_stack, raw, status):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", secure_stack.ports.frontdoor, ssl=secure_stack.tls_context()
    )
    writer.write(raw)
    answer = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.split(" ", 2)[1] == str(status) and "\r\nserver:" not in head and "set-cookie" not in head


# ---- CORS ----


@pytest.mark.parametrize("origin", [ALLOWED, ALLOWED_WILDCARD])
async def test_preflight_from_an_allowed_origin(visitor, origin):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-backendai-version",
    }
    async with visitor.options("/func/admin/gql", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "X-BackendAI-Version" in response.headers["Access-Control-Allow-Headers"]
        assert response.headers["Access-Control-Max-Age"] == "600"


@pytest.mark.parametrize("origin", [EVIL, "null", "https://apps.example.com", "https://console.example.com.evil.net"])
async def test_preflight_from_anywhere_else_is_refused_without_cors_headers(visitor, origin):
    async with visitor.options(
        "/func/auth", headers={"Origin": origin, "Access-Control-Request-Method": "PUT"}
    ) as response:
        assert response.status == 403
        assert response.content_type == "application/problem+json"
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("path", ["/func/auth?echo=cors", "/func/dev/download?size=200000", "/server/login-check"])
async def test_actual_responses_carry_cors_for_allowed_origins_only(admin, path):
    method = "POST" if path.startswith("/server/") else "GET"
    async with admin.request(method, path, headers={"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"}) as response:
        await response.read()
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    async with admin.request(method, path, headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}) as response:
        await response.read()
        # A GET is answered (the browser just may not show it to the evil page); a POST is refused.
        assert response.status == (200 if method == "GET" else 403)
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


# ---- CSRF ----


async def still_logged_in(session: aiohttp.ClientSession) -> bool:
    async with session.post("/server/login-check") as response:
        return (await response.json())["authenticated"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1"},
    ],
)
async def test_cross_site_state_changes_are_refused(admin, headers):
    async with admin.post("/server/logout", headers=headers) as response:
        assert response.status == 403
        assert response.content_type == "application/problem+json"
        assert (await response.json())["type"].endswith("/csrf-refused")
    async with admin.post("/func/dev/upload", data=b"x" * 10, headers=headers) as response:
        assert response.status == 403  # the Manager was never asked
    async with admin.delete("/func/session/abc", headers=headers) as response:
        assert response.status == 403
    assert await still_logged_in(admin)


async def test_cross_site_login_and_websocket_are_refused(visitor, admin):
    async with visitor.post(
        "/server/login",
        json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]},
        headers={"Origin": EVIL, "X-Forwarded-For": fresh_address()},
    ) as response:
        assert response.status == 403 and "Set-Cookie" not in response.headers  # no login CSRF
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with admin.ws_connect("/func/stream/echo", origin=EVIL):
            pass
    assert caught.value.status == 403
    async with admin.ws_connect("/func/stream/echo", origin=ALLOWED) as ws:
        await ws.send_str("allowed")
        assert (await ws.receive(timeout=5)).data == "allowed"


async def test_form_post_from_another_site_gets_a_readable_page(admin):
    async with admin.post("/ui/logout", headers={"Origin": EVIL, "Accept": "text/html"}) as response:
        assert response.status == 403 and response.content_type == "text/html"
    assert await still_logged_in(admin)


@pytest.mark.parametrize(
    "headers_of",
    [
        lambda own: {"Origin": own, "Sec-Fetch-Site": "same-origin"},
        lambda own: {"Origin": own},  # a browser without Fetch Metadata
        lambda own: {"Sec-Fetch-Site": "same-origin"},
        lambda own: {"Origin": ALLOWED_WILDCARD, "Sec-Fetch-Site": "cross-site"},
        lambda own: {},  # the SDK, curl
    ],
)
async def test_same_origin_allowed_origins_and_non_browsers_change_state(admin, own_origin, headers_of):
    async with admin.post("/func/dev/upload", data=b"y" * 100, headers=headers_of(own_origin)) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["size"] == 100


async def test_many_tabs_of_one_session_work_at_once(admin, own_origin):
    """No per-request token: interleaved state changes from several tabs all succeed."""
    headers = {"Origin": own_origin, "Sec-Fetch-Site": "same-origin"}

    async def tab(n: int) -> list[tuple[str, int]]:
        statuses = []
        for i in range(3):
            async with admin.post("/func/dev/upload", data=b"z" * (n + i), headers=headers) as response:
                statuses.append(("upload", response.status))
            async with admin.post("/server/extend-login-session", headers=headers) as response:
                statuses.append(("extend", response.status))
        return statuses

    results = await asyncio.gather(*(tab(n) for n in range(3)))
    assert {status for statuses in results for _, status in statuses} == {200}, results


# ---- input checks ----


@pytest.mark.parametrize(
    "username, fragment",
    [
        ("admin@lablup.com\r\nX-Injected: 1", "control"),
        ("a@b@lablup.com", "exactly one"),
        ("<script>alert(1)</script>", "user name"),
        ("x" * 300, "254"),
    ],
)
async def test_bad_usernames_get_a_clear_400(visitor, username, fragment):
    async with visitor.post(
        "/server/login", json={"username": username, "password": "x"}, headers={"X-Forwarded-For": fresh_address()}
    ) as response:
        assert response.status == 400
        body = await response.json()
    assert body["type"].endswith("/invalid-api-params") and fragment in body["details"]


async def test_oversized_login_body_is_refused(visitor):
    body = b'{"username": "admin@lablup.com", "password": "' + b"x" * (70 * 1024) + b'"}'
    async with visitor.post(
        "/server/login", data=body, headers={"Content-Type": "application/json", "X-Forwarded-For": fresh_address()}
    ) as response:
        assert response.status == 413
        assert response.content_type == "application/problem+json"


async def test_redirect_after_login_stays_on_this_site(secure_stack):
    async with secure_stack.client() as session:
        data = {"username": ADMIN_USER[0], "password": ADMIN_USER[1], "next": "//evil.example.net/x"}
        async with session.post(
            "/ui/login", data=data, allow_redirects=False, headers={"X-Forwarded-For": fresh_address()}
        ) as response:
            assert response.status in (302, 303)
            location = URL(response.headers["Location"])
            assert not location.host or location.host == "127.0.0.1"
            assert location.path.startswith("/") and not response.headers["Location"].startswith("//")


async def test_the_stack_still_serves_after_all_that(secure_stack):
    async with secure_stack.client() as session:
        await log_in(session)
        async with session.get("/func/auth?echo=alive") as response:
            assert response.status == 200
    assert len(secure_stack.pids("frontdoor")) == 2
