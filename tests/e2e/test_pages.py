"""Our pages and the web UI files over HTTP, through the real stack: form login and its errors,
return paths, logout, expired sessions, config.toml, error pages, assets."""

from __future__ import annotations

import secrets
import tomllib

import aiohttp
import pytest
from yarl import URL

from tests.support.http_probe import signed_call_works
from tests.support.polling import eventually_sync
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MONITOR_USER = ("monitor@lablup.com", "7tuEwF1J")


@pytest.fixture
async def web_client(stack):
    """A client that, like a browser, keeps cookies but lets the test see each redirect."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=jar, headers=HTML) as session:
        yield session


async def form_login(session, user=ADMIN_USER, next_path="/ui/", headers=None):
    form = {"username": user[0], "password": user[1], "next": next_path}
    return await session.post("/ui/login", data=form, allow_redirects=False, headers=headers)


def session_cookie(session, stack):
    return session.cookie_jar.filter_cookies(URL(stack.base_url)).get(stack.config.session.cookie_name)


async def test_without_a_bundle_the_root_leads_to_our_pages_and_they_ask_for_login(web_client):
    async with web_client.get("/", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/ui/"
    async with web_client.get("/ui/", allow_redirects=False) as response:
        assert response.status == 303
        location = URL(response.headers["Location"])
    assert location.path == "/ui/login"
    assert location.query == {"next": "/ui/", "reason": "login_required"}
    async with web_client.get(str(location)) as response:
        page = await response.text()
        assert response.status == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
    assert 'id="login-notice"' in page and "Please log in to continue." in page
    assert 'name="next" value="/ui/"' in page


async def test_form_login_goes_back_to_the_page_and_shows_who_is_logged_in(web_client, stack):
    async with await form_login(web_client, next_path="/ui/console?path=auth%3Fecho%3Dx") as response:
        assert response.status == 303
        assert response.headers["Location"] == "/ui/console?path=auth%3Fecho%3Dx"
        assert "HttpOnly" in response.headers["Set-Cookie"]
    assert session_cookie(web_client, stack) is not None
    async with web_client.get("/ui/") as response:
        page = await response.text()
    assert 'id="user-id">admin@lablup.com<' in page
    assert "superadmin" in page and "AKIAIOSFODNN7EXAMPLE" in page
    assert 'id="countdown" data-expires-at="' in page
    async with web_client.get("/ui/console?path=auth%3Fecho%3D%3Cb%3E") as response:
        page = await response.text()
    assert 'value="auth?echo=&lt;b&gt;"' in page  # autoescaped, never raw
    async with web_client.get("/ui/login?next=/ui/console", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/ui/console"


@pytest.mark.parametrize(
    "evil", ["//evil.example/", "https://evil.example/", "/%2F%2Fevil.example", "javascript:alert(1)"]
)
async def test_login_never_redirects_to_another_origin(web_client, evil):
    async with await form_login(web_client, NORMAL_USER, next_path=evil) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/ui/"


async def test_wrong_password_is_explained_and_the_password_is_not_echoed(web_client, stack):
    wrong = ("monitor@lablup.com", "not-the-password-" + secrets.token_hex(4))
    async with await form_login(web_client, wrong) as response:
        page = await response.text()
        assert response.status == 401
    assert 'id="login-error"' in page and "Wrong email or password." in page
    assert 'value="monitor@lablup.com"' in page and wrong[1] not in page
    assert session_cookie(web_client, stack) is None
    async with await form_login(web_client, MONITOR_USER) as response:  # and the right one still works
        assert response.status == 303


async def test_repeated_failures_block_with_the_minutes_to_wait(web_client, stack):
    username = f"blocked-{secrets.token_hex(4)}@lablup.com"
    for _ in range(stack.config.session.login_allowed_fail_count):
        async with await form_login(web_client, (username, "wrong")) as response:
            assert response.status == 401
    async with await form_login(web_client, (username, "wrong")) as response:
        page = await response.text()
        assert response.status == 429
    assert "Too many failed attempts. Try again in 1 minute(s)." in page


async def test_login_messages_follow_the_language_cookie(stack):
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({"webui_lang": "ko", "webui_theme": "dark"}, URL(stack.base_url))
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=jar, headers=HTML) as session:
        async with await form_login(session, ("monitor@lablup.com", "wrong")) as response:
            page = await response.text()
    assert '<html lang="ko" data-theme="dark">' in page
    assert "이메일 또는 비밀번호가 올바르지 않습니다." in page


async def test_a_form_post_from_another_site_is_refused(web_client, stack):
    async with await form_login(
        web_client, headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    ) as response:
        assert response.status == 403  # by the security middleware, or by the page's own check behind it
    assert session_cookie(web_client, stack) is None


async def test_logout_ends_the_session_and_says_so(web_client, stack):
    async with await form_login(web_client):
        pass
    async with web_client.post("/ui/logout", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/ui/login?reason=logged_out"
    async with web_client.get("/func/auth?echo=x") as response:
        assert response.status == 401
    async with web_client.get("/ui/login?reason=logged_out") as response:
        assert "You have logged out." in await response.text()


async def test_an_expired_session_returns_to_login_and_then_to_the_page(web_client, stack):
    async with await form_login(web_client):
        pass
    cookie = session_cookie(web_client, stack)
    # The session ends elsewhere (another tab logs out, an admin revokes it).
    async with aiohttp.ClientSession(stack.base_url) as other:
        async with other.post("/server/logout", headers={"Cookie": f"{cookie.key}={cookie.value}"}) as response:
            assert response.status == 201
    async with web_client.get("/ui/console?path=auth", allow_redirects=False) as response:
        assert response.status == 303
        location = URL(response.headers["Location"])
    assert location.query == {"next": "/ui/console?path=auth", "reason": "expired"}
    async with web_client.get(str(location)) as response:
        assert "Your session has expired." in await response.text()
    async with await form_login(web_client, next_path=location.query["next"]) as response:
        assert response.headers["Location"] == "/ui/console?path=auth"


async def test_manager_unreachable_is_explained_on_the_login_page(web_client, stack):
    assert "stopped" in stack.supervisorctl("stop", "devstack").lower()
    try:
        async with await form_login(web_client, NORMAL_USER) as response:
            page = await response.text()
            assert response.status == 502
    finally:
        stack.supervisorctl("start", "devstack")
    assert "The Backend.AI Manager cannot be reached." in page
    eventually_sync(lambda: signed_call_works(stack.base_url, *ADMIN_USER), 20, 0.2, what="a signed call")


async def test_config_toml_for_the_official_web_ui(web_client, stack):
    async with web_client.get("/config.toml") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        doc = tomllib.loads(await response.text())
    assert doc["general"]["connectionMode"] == "SESSION"
    assert doc["general"]["apiEndpoint"] == stack.base_url


async def test_error_pages_for_browsers_and_problem_json_for_apis(web_client):
    async with web_client.get("/no/such/page") as response:
        assert response.status == 404 and response.content_type == "text/html"
        assert "Page not found" in await response.text()
    async with web_client.delete("/ui/") as response:
        assert response.status == 405 and response.content_type == "text/html"
        assert "GET" in response.headers["Allow"]
    async with web_client.get("/server/nothing") as response:
        assert response.status == 404 and response.content_type == "application/problem+json"
    async with web_client.get("/no/such/file.js", headers={"Accept": "*/*"}) as response:
        assert response.status == 404 and response.content_type == "text/plain"  # a missing asset: plain 404


async def test_our_assets_are_versioned_and_cacheable(web_client):
    async with web_client.get("/ui/login") as response:
        page = await response.text()
    css_url = page.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert css_url.startswith("/ui/static/app.css?v=")
    async with web_client.get(css_url) as response:
        assert response.status == 200 and response.content_type == "text/css"
        assert "max-age=86400" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
    async with web_client.get(css_url, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
    async with web_client.get("/ui/static/../../contract/config.py") as response:
        assert response.status == 404


async def test_form_login_checks_fields_like_the_json_login(stack):
    import aiohttp

    async with aiohttp.ClientSession(stack.base_url) as session:
        form = {"username": "not an email!", "password": "x", "next": "/ui/"}
        async with session.post("/ui/login", data=form, allow_redirects=False) as response:
            assert response.status == 400
            assert "Login failed" in await response.text()
