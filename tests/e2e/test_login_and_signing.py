"""Login, signed REST and GraphQL calls, logout and failed-login blocking, through real processes."""

from __future__ import annotations

import hashlib
import json
import time

import aiohttp
import pytest
from yarl import URL

from contract.redis_layout import SessionRecord, session_hash, session_key
from tests.e2e.conftest import log_in
from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow


async def test_login_sets_a_safe_cookie_and_returns_the_backend_ai_envelope(visitor, stack):
    async with visitor.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as response:
        assert response.status == 200
        body = await response.json()
        cookie = response.cookies[stack.config.session.cookie_name]
        set_cookie = response.headers["Set-Cookie"]
        assert "X-BackendAI-SessionID" not in response.headers
    assert body == {
        "authenticated": True,
        "data": {"access_key": "AKIAIOSFODNN7EXAMPLE", "role": "superadmin", "status": "active"},
    }
    assert len(cookie.value) == 32 and int(cookie.value, 16) >= 0
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    async with visitor.post("/server/login-check") as response:
        assert await response.json() == {"authenticated": True, "data": body["data"], "session_id": None}


async def test_each_login_gets_a_new_session_id(stack):
    ids = set()
    for _ in range(2):
        async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await log_in(session)
            ids.add(session.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value)
    assert len(ids) == 2


async def test_signed_rest_call_is_accepted_by_the_manager(admin):
    async with admin.get("/func/auth?echo=hello%20world") as response:
        assert response.status == 200, await response.text()
        assert await response.json() == {"authorized": "yes", "echo": "hello world"}
        assert response.headers["X-Devstack-Auth"] == "hmac"


@pytest.mark.parametrize("path", ["/func/admin/gql", "/func/admin/graphql"])
async def test_graphql_carries_a_jwt_the_manager_accepts(admin, path):
    async with admin.post(path, json={"query": "{ me { email } }"}) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["extensions"]["auth_method"] == "jwt"
    assert body["data"]["me"]["email"] == ADMIN_USER[0]


async def test_manager_version_is_public(visitor):
    async with visitor.get("/func/") as response:
        assert response.status == 200
        assert "version" in await response.json()


async def test_no_session_wrong_session_and_expired_session_are_401(visitor, stack):
    async with visitor.get("/func/auth?echo=x") as response:
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert (await response.json())["title"] == "Unauthorized access"
    cookie = stack.config.session.cookie_name
    async with visitor.get("/func/auth?echo=x", headers={"Cookie": f"{cookie}={'0' * 32}"}) as response:
        assert response.status == 401
    # An expired record still present in Redis (as after a clock jump) must not be honoured.
    stale_id = "f" * 32
    now = time.time()
    record = SessionRecord(
        "admin@lablup.com", "AKIAIOSFODNN7EXAMPLE", "superadmin", "active", now - 100, now - 100, now - 1
    )
    stack.admin_redis().set(session_key(session_hash(stale_id)), record.to_json(), ex=60)
    async with visitor.get("/func/auth?echo=x", headers={"Cookie": f"{cookie}={stale_id}"}) as response:
        assert response.status == 401


async def test_logout_ends_the_session(admin, stack):
    cookie_value = admin.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value
    async with admin.get("/func/auth?echo=1") as response:
        assert response.status == 200
    async with admin.post("/server/logout") as response:
        assert response.status == 201  # Backend.AI 23.09: an empty 201
        assert await response.read() == b""
    async with admin.get("/func/auth?echo=1") as response:
        assert response.status == 401
    # Replaying the old cookie after logout must fail too (the server-side record is gone).
    async with aiohttp.ClientSession(stack.base_url) as replay:
        async with replay.get(
            "/func/auth?echo=1", headers={"Cookie": f"{stack.config.session.cookie_name}={cookie_value}"}
        ) as response:
            assert response.status == 401
    assert stack.admin_redis().exists(session_key(session_hash(cookie_value))) == 0


async def test_seed_login_and_logout_paths(visitor):
    async with visitor.post(
        "/api/auth/login", json={"username": NORMAL_USER[0], "password": NORMAL_USER[1]}
    ) as response:
        assert response.status == 200
        assert (await response.json())["data"]["role"] == "user"
    async with visitor.post("/api/auth/logout") as response:
        assert response.status == 200
    async with visitor.post("/server/login-check") as response:
        assert (await response.json())["authenticated"] is False


@pytest.mark.parametrize(
    "body, title",
    [
        ({"password": "x"}, "You must provide the username field."),
        ({"username": "a@b.c"}, "You must provide the password field."),
        ({"username": "", "password": "x"}, "You must provide the username field."),
    ],
)
async def test_login_field_errors(visitor, body, title):
    async with visitor.post("/server/login", json=body) as response:
        assert response.status == 400
        assert (await response.json())["title"] == title


async def test_failed_logins_block_the_username(visitor, stack):
    username = "user@lablup.com"
    allowed = stack.config.session.login_allowed_fail_count
    for _ in range(allowed):
        async with visitor.post("/server/login", json={"username": username, "password": "wrong"}) as response:
            assert response.status == 200  # Backend.AI 23.09: refused logins are 200, authenticated false
            body = await response.json()
            assert body["authenticated"] is False and body["data"]["type"].endswith("auth-failed")
    async with visitor.post("/server/login", json={"username": username, "password": NORMAL_USER[1]}) as response:
        assert response.status == 429
        assert (await response.json())["title"] == "Too many failed login attempts"
    stack.admin_redis().delete(f"login_history_{username}")
    async with visitor.post("/server/login", json={"username": username, "password": NORMAL_USER[1]}) as response:
        assert response.status == 200


async def test_extend_login_session(admin):
    async with admin.post("/server/extend-login-session") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == 201 and body["expires"].endswith(("Z", "+00:00"))


async def test_browser_authorization_and_session_cookie_never_reach_the_manager(admin, stack):
    cookie = stack.config.session.cookie_name
    async with admin.get(
        "/func/dev/echo-headers", headers={"Authorization": "Bearer stolen", "Cookie": "theme=dark"}
    ) as response:
        assert response.status == 200
        seen = await response.json()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"].startswith("BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:")
    assert cookie not in seen.get("cookies", {})
    assert cookie not in headers.get("cookie", "")
    assert headers["x-forwarded-for"] == "127.0.0.1"


async def test_steady_state_costs_no_redis_round_trip(admin, stack):
    def get_calls() -> int:
        stats = stack.admin_redis().info("commandstats")
        return stats.get("cmdstat_get", {}).get("calls", 0)

    async def warm_batch_read_nothing() -> bool:
        """Ten requests that read nothing from Redis: the front door and the signer its requests go to
        hold the session and the key.  (A signer joining the pool after the stack answered its first
        call, e.g. a later worker, becomes the preferred one and reads the key once: not yet steady.)"""
        start = get_calls()
        for _ in range(10):
            async with admin.get("/func/auth?echo=warm") as response:
                assert response.status == 200
        return get_calls() == start

    await eventually(warm_batch_read_nothing, timeout=20, interval=0.2, what="a warm batch without a Redis read")
    before = get_calls()
    for _ in range(50):
        async with admin.get("/func/auth?echo=steady") as response:
            assert response.status == 200
    assert get_calls() - before == 0


def encode_like_the_web_ui(plaintext: bytes, endpoint: str, iv: str = "abcdefghijklmnop") -> bytes:
    """The browser SDK's X-BackendAI-Encoded body (AES-256-CBC, key from the endpoint and IV)."""
    import base64

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = (base64.b64encode(endpoint.encode()).decode() + iv + iv)[:32].encode()
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv.encode())).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    return iv.encode() + b":" + base64.b64encode(ciphertext)


async def test_encoded_login_body_from_the_web_ui(visitor, stack):
    body = json.dumps({"username": ADMIN_USER[0], "password": ADMIN_USER[1]}).encode()
    encoded = encode_like_the_web_ui(body, stack.base_url)
    headers = {"X-BackendAI-Encoded": "true", "Content-Type": "application/json"}
    async with visitor.post("/server/login", data=encoded, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["authenticated"] is True
    async with visitor.post("/server/logout"):
        pass
    async with visitor.post("/server/login", data=b"abcdefghijklmnop:garbage", headers=headers) as response:
        assert response.status == 400
        assert await response.json(content_type=None) == UNDECODABLE


# What an encoded body that does not decode gets, on a login and on a proxied call alike.
UNDECODABLE = {
    "type": "https://api.backend.ai/probs/invalid-api-params",
    "title": "The encoded request body cannot be decoded.",
}
ENCODED_JSON = {"X-BackendAI-Encoded": "true", "Content-Type": "application/json"}


async def test_an_encoded_proxied_body_reaches_the_manager_decoded(admin, stack):
    """The Web UI encodes its password change (/func/auth/update-password) as it does its login, and
    Backend.AI's webserver decodes every encoded body before the Manager sees it: so does ours."""
    plaintext = json.dumps({"echo": "decoded by the daemon"}).encode()
    encoded = encode_like_the_web_ui(plaintext, stack.base_url)
    async with admin.post("/func/auth", data=encoded, headers=ENCODED_JSON) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["echo"] == "decoded by the daemon"
    blob = bytes(range(256)) * 64  # any bytes: the upload route answers the size and digest of what came
    headers = {"X-BackendAI-Encoded": "1", "Content-Type": "application/octet-stream"}
    async with admin.post(
        "/func/dev/upload", data=encode_like_the_web_ui(blob, stack.base_url), headers=headers
    ) as got:
        assert got.status == 200, await got.text()
        assert await got.json() == {"size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}


async def test_an_encoded_proxied_body_that_does_not_decode_is_refused_before_the_manager(admin, stack):
    async with admin.post("/func/auth", data=b"abcdefghijklmnop:garbage", headers=ENCODED_JSON) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        assert await response.json(content_type=None) == UNDECODABLE
    too_large = b"abcdefghijklmnop:" + b"A" * (256 * 1024)
    async with admin.post("/func/auth", data=too_large, headers=ENCODED_JSON) as response:
        assert response.status == 413
        assert response.content_type == "application/problem+json"


async def test_update_password_no_auth_envelope(visitor):
    body = {"username": NORMAL_USER[0], "current_password": NORMAL_USER[1], "new_password": "N3w-password!"}
    async with visitor.post("/server/update-password-no-auth", json=body) as response:
        assert response.status == 200
        reply = await response.json()
    # The development Manager runs without max_password_age, so it refuses, as a real one would.
    assert reply["password_changed_at"] is None
    assert reply["data"]["type"].startswith("https://api.backend.ai/probs/")
    async with visitor.post("/server/update-password-no-auth", json={"username": "a@b.c"}) as response:
        assert response.status == 400
        assert (await response.json())["title"] == "You must provide the current_password field."
