"""The ``/func/*`` routes Backend.AI's webserver 23.09 serves specially, and ``/pipeline/*``: the official
Web UI's conversation for each, replayed against a running front door and the development Manager.

One row per request: who asks (anonymous, or logged in), what is sent, and what must come back, and
for the forwarded ones what the upstream stub saw (never a signature, never our session cookie, never
the browser's ``Authorization``).  The per-address login limit on the anonymous auth-plugin routes is
the last test (it spends the address's budget).
"""

from __future__ import annotations

import json

import aiohttp
import jwt
import pytest

from tests.support.imports import mapped_files
from tests.support.official_webui import encode_like_the_web_ui
from tests.support.stack import ADMIN_USER, NORMAL_USER, RunningStack

PIPELINE_SECRET = "pipeline-test-secret-0123456789-abcdef"
LOGIN_BUDGET = 30  # [security.rate_limit] login_requests of this stack
COOKIE = "AIOHTTP_SESSION"
BROWSER_HEADERS = {"Authorization": "Bearer browser-own", "Cookie": "other=kept", "X-BackendAI-Version": "v7.20230615"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("special")
    running = RunningStack(
        directory,
        service_extra="enable_signup = true",
        rate_limits=f"requests = 1000000\nlogin_requests = {LOGIN_BUDGET}",
    )
    running.config_path.write_text(
        running.config_path.read_text()
        + (
            f'\n[pipeline]\nendpoint = "http://127.0.0.1:{running.ports.manager}/fasttrack"\n'
            f'frontend_endpoint = "http://127.0.0.1:3000"\n\n[pipeline.jwt]\nsecret = "{PIPELINE_SECRET}"\n'
        )
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def web(stack):
    async with aiohttp.ClientSession(
        stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": stack.base_url}
    ) as session:
        yield session


async def login(web, user=NORMAL_USER) -> str:
    async with web.post("/server/login", json={"username": user[0], "password": user[1]}) as answer:
        assert answer.status == 200 and (await answer.json())["authenticated"] is True
        return (await answer.json())["data"]["access_key"]


def assert_clean(seen: dict) -> None:
    """What reached the upstream: nothing the Manager or we would accept as the user."""
    assert seen["authorization"] is False
    assert COOKIE not in (seen.get("cookie") or "")
    assert seen.get("session_id_header") is None


# (method, path, logged in, JSON body, status): Backend.AI's anonymous auth-plugin routes (server.py)
PLUGIN_CASES = [
    ("POST", "/func/saml/login", False, {"RelayState": "x"}, 200),
    ("POST", "/func/saml/login", True, {"RelayState": "x"}, 200),
    ("GET", "/func/openid/login?redirect_to=home", False, None, 200),
    ("POST", "/func/openid/callback", True, {"code": "c"}, 200),
    ("GET", "/func/custom-auth/start", False, None, 200),
    ("POST", "/func/custom-auth/finish", False, {"t": 1}, 200),
    ("GET", "/func/cloud/plans", False, None, 200),
    ("POST", "/func/cloud/signup", True, {"plan": "p"}, 200),
]


@pytest.mark.parametrize("method, path, logged_in, body, status", PLUGIN_CASES)
async def test_auth_plugin_routes_are_forwarded_anonymously(web, method, path, logged_in, body, status):
    if logged_in:
        await login(web)
    async with web.request(method, path, json=body, headers=BROWSER_HEADERS) as answer:
        raw = await answer.read()
        assert answer.status == status, raw[:300]
    seen = json.loads(raw)
    assert seen["method"] == method and seen["path"] == path.removeprefix("/func")
    assert_clean(seen)
    assert "other=kept" in seen["cookie"]  # the browser's other cookies go on, as Backend.AI forwards them
    if body is not None:
        assert json.loads(seen["body"]) == body


async def test_saml_by_get_is_not_anonymous(web):
    """Backend.AI lets only POST through anonymously on /func/saml/*; a GET needs a session."""
    async with web.get("/func/saml/login") as answer:
        assert answer.status == 401


async def test_ping_is_answered_by_the_web_server(web):
    async with web.get("/func/ping") as answer:
        assert answer.status == 200
        body = await answer.json()
    assert body["details"] == "Success" and isinstance(body["version"], str)


# (method, headers, body, status, Upload-Offset answered): a tus client's resumable upload, anonymous
TUS_CASES = [
    ("OPTIONS", {"Tus-Resumable": "1.0.0"}, b"", 200, "0"),
    ("HEAD", {"Tus-Resumable": "1.0.0"}, b"", 204, "0"),
    (
        "PATCH",
        {"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        b"0123456789",
        204,
        "10",
    ),
]


@pytest.mark.parametrize("method, headers, body, status, offset", TUS_CASES)
async def test_tus_upload_is_anonymous(web, method, headers, body, status, offset):
    await login(web)  # a session must not turn into a signature or a forwarded cookie
    async with web.request(
        method,
        "/func/folders/_/tus/upload/upload-token-1",
        data=body,
        headers={**headers, "Authorization": "Bearer browser-own"},
    ) as answer:
        assert answer.status == status, await answer.text()
        assert answer.headers["Upload-Offset"] == offset
        assert answer.headers["X-Devstack-Saw-Authorization"] == "false"
        assert answer.headers["X-Devstack-Saw-Tus"] == "1.0.0"
        assert COOKIE not in answer.headers["X-Devstack-Saw-Cookie"]


# (body, status, answer keys): the Web UI's signup dialog; the secret key never reaches the browser
SIGNUP_CASES = [
    (
        {
            "email": "newcomer@lablup.com",
            "password": "Sign-up-1",
            "username": "newcomer",
            "full_name": "N",
            "domain": "elsewhere",
        },
        201,
        {"access_key"},
    ),
    ({"email": ADMIN_USER[0], "password": "Sign-up-1", "username": "again"}, 400, {"type", "title", "msg"}),
    ({"email": "no-password@lablup.com"}, 400, {"type", "title", "details"}),
    ({"email": "nul@lablup.com", "password": "a\0b"}, 400, {"type", "title", "details"}),
    ({"email": "not an email", "password": "Sign-up-1"}, 400, {"type", "title", "details"}),
]


@pytest.mark.parametrize("body, status, keys", SIGNUP_CASES)
async def test_signup_is_anonymous_and_never_carries_a_secret_key(web, body, status, keys):
    async with web.post("/func/auth/signup", json=body, headers=BROWSER_HEADERS) as answer:
        raw = await answer.read()
        assert answer.status == status, raw[:300]
    doc = json.loads(raw)
    assert set(doc) <= keys | {"details"} and "secret_key" not in raw.decode()
    if status == 201:
        assert doc["access_key"].startswith("AKIA")


async def test_signup_by_another_spelling_is_still_refused(web):
    """Only the exact route goes to the daemon; other spellings reach the proxy, which refuses them."""
    async with web.post("/func//auth/signup", json={"email": "a@b.c", "password": "p"}) as answer:
        assert answer.status == 403


async def test_pipeline_gets_its_jwt_and_never_a_signature(web):
    async with web.get("/pipeline/api/pipelines/") as answer:
        assert answer.status == 401  # logged-in users only
    access_key = await login(web)
    async with web.get("/pipeline/api/pipelines/?page=1", headers=BROWSER_HEADERS) as answer:
        assert answer.status == 200, await answer.text()
        seen = await answer.json()
    assert seen["path"] == "/fasttrack/api/pipelines/?page=1"
    assert_clean(seen)
    claims = jwt.decode(seen["sso"], PIPELINE_SECRET, algorithms=["HS256"])
    assert claims["access_key"] == access_key and claims["iss"] == "Backend.AI Webserver"
    assert "aiohttp_session" not in claims and claims["exp"] > claims["iat"]
    async with web.post(
        "/pipeline/api/pipelines/", json={"name": "p"}, headers={"X-BackendAI-SSO": "browser-pipeline-token"}
    ) as answer:
        assert (await answer.json())["sso"] == "browser-pipeline-token"  # a browser's own token, as Backend.AI


async def test_pipeline_websockets_need_a_session_and_get_the_jwt_too(web):
    """Backend.AI relays /pipeline/stream/* anonymously; here the same rules as every /pipeline call."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await web.ws_connect("/pipeline/stream/pipeline-jobs/1/logs")
    assert refused.value.status == 401
    access_key = await login(web)
    async with web.ws_connect("/pipeline/stream/pipeline-jobs/1/logs", headers=BROWSER_HEADERS) as socket:
        seen = await socket.receive_json(timeout=10)
    assert seen["path"] == "/fasttrack/stream/pipeline-jobs/1/logs"
    assert_clean(seen)
    assert jwt.decode(seen["sso"], PIPELINE_SECRET, algorithms=["HS256"])["access_key"] == access_key


@pytest.mark.parametrize("path", ["/pipeline/auth-token/", "/pipeline/api/Auth-Token/", "/pipeline/api/login/"])
async def test_the_pipeline_login_never_carries_manager_credentials(web, path):
    """The Web UI's pipeline login body holds the password and the secret key: refused by name."""
    await login(web)
    body = {"username": NORMAL_USER[0], "password": NORMAL_USER[1], "access_key": "AK", "secret_key": "SK"}
    async with web.post(path, json=body) as answer:
        assert answer.status == 403
        assert (await answer.json())["type"].endswith("/webserver/pipeline-login-refused")


async def test_config_toml_names_the_pipeline_and_signup(web, stack):
    async with web.get("/config.toml") as answer:
        text = await answer.text()
    assert "signupSupport = true" in text
    assert f'endpoint = "http://127.0.0.1:{stack.ports.manager}/fasttrack"' in text


async def test_no_browser_path_brings_the_cipher_library_into_a_front_door(web, stack):
    """An encoded login and an encoded password change (the Web UI's two encoded bodies) and a pipeline
    call (its JWT): the session daemon decodes, the JWT is written without PyJWT, so no front door
    maps cryptography's ~7 MiB."""
    body = json.dumps({"username": NORMAL_USER[0], "password": NORMAL_USER[1]}).encode()
    headers = {"X-BackendAI-Encoded": "true", "Content-Type": "application/json"}
    async with web.post("/server/login", data=encode_like_the_web_ui(body, stack.base_url), headers=headers) as answer:
        assert (await answer.json())["authenticated"] is True
    echo = encode_like_the_web_ui(b'{"echo": "e"}', stack.base_url)
    async with web.post("/func/auth", data=echo, headers=headers) as answer:
        assert (await answer.json())["echo"] == "e"
    async with web.get("/pipeline/api/pipelines/") as answer:
        assert answer.status == 200
    front_doors = stack.pids("frontdoor")
    assert front_doors
    for pid in front_doors:
        assert not [path for path in mapped_files(pid) if "/cryptography/" in path], pid


async def test_auth_plugin_routes_share_the_per_address_login_limit(web):
    statuses = []
    for _ in range(LOGIN_BUDGET + 1):
        async with web.post("/func/saml/login", json={}) as answer:
            statuses.append(answer.status)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    async with web.get("/func/openid/login") as answer:
        assert answer.status == 429  # one counter per address for every password and auth-plugin path
    async with web.post("/func/auth/signup", json={"email": "late@lablup.com", "password": "x"}) as answer:
        assert answer.status == 429
    async with web.get("/func/ping") as answer:
        assert answer.status == 200  # not an authentication path
