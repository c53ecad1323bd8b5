"""A deployment's answers never act as our origin: checked on the wire and in headless Chromium.

The deployment (signing "none") serves an HTML page whose inline script tries to call our API with
the browser's cookie and to set cookies, and whose headers try to replace our session cookie.  The
page must run sandboxed (no script as our origin), our session cookie must survive, and the
deployment's other cookies must stay under its route prefix.  The Manager's cookies go back to
``/func`` only, and no deployment gets the single sign-on token cookie.  Downloads from ``/func`` and from a
deployment, the way the official Web UI starts them, must still work.
"""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
import pytest
from playwright.sync_api import BrowserContext

from tests.support.stack import ADMIN_USER
from tests.support.upstreams import Answer, RecordingServer, deploy

pytestmark = pytest.mark.slow
NAME = "pages"
PROXIED_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
PAWNED_GROUP = "PWNED_BY_A_DEPLOYMENT"
PAGE = f"""<!doctype html><html><body><p id="x">deployment page</p><script>
document.title = "script ran";
document.cookie = "from_script=1; path=/";
fetch("/api/webapi/groups", {{method: "POST", credentials: "include", headers: {{"Content-Type": "application/json"}},
                              body: JSON.stringify({{name: "{PAWNED_GROUP}"}})}})
  .then(r => {{ document.title = "fetched " + r.status; }}, () => {{ document.title = "fetch failed"; }});
</script></body></html>""".encode()


@pytest.fixture(scope="module")
def deployment(stack):
    ours = stack.config.session.cookie_name
    page = Answer(
        headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Security-Policy", "script-src 'unsafe-inline' *"),  # the upstream's own, to be replaced
            ("Set-Cookie", f"{ours}=evil; Path=/"),
            ("Set-Cookie", f"__Host-{ours}=evil; Path=/; Secure"),
            ("Set-Cookie", f"{ours.lower()}=evil; Path=/"),
            ("Set-Cookie", f"={ours}=evil; Path=/"),
            ("Set-Cookie", "deploy_pref=1; Path=/; HttpOnly"),
            ("Set-Cookie", "deploy_theme=dark; Domain=127.0.0.1; Path=/ui; SameSite=Lax"),
            ("Clear-Site-Data", '"cookies"'),  # would log the browser out of our site
        ],
        body=PAGE,
    )
    report = Answer(
        headers=[("Content-Type", "text/csv"), ("Content-Disposition", 'attachment; filename="report.csv"')],
        body=b"a,b\n1,2\n",
    )
    with RecordingServer({"/page.html": page, "/report.csv": report}) as upstream:
        deploy(stack.base_url, ADMIN_USER, NAME, upstream)
        yield upstream


async def test_proxied_answers_are_sandboxed_and_keep_our_cookie(deployment, admin):
    async with admin.get(f"/webapi/{NAME}/page.html") as response:
        assert response.status == 200
        assert response.headers.getall("Content-Security-Policy") == [PROXIED_POLICY]
        assert response.headers["X-Content-Type-Options"] == "nosniff" and "Clear-Site-Data" not in response.headers
        assert response.headers.getall("Set-Cookie") == [
            "deploy_pref=1; HttpOnly; Path=/webapi/pages",
            "deploy_theme=dark; SameSite=Lax; Path=/webapi/pages",
        ]
    for path in ("/func/auth?echo=csp", "/func/dev/download?size=200000", "/func/no/such/endpoint"):
        async with admin.get(path) as response:
            await response.read()
            assert response.headers.getall("Content-Security-Policy") == [PROXIED_POLICY], path
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_websocket_handshake_to_a_deployment_carries_no_credential_cookie(deployment, admin):
    admin.cookie_jar.update_cookies({"sToken": "sso-token", "plain": "1"})  # Path=/, as an SSO portal sets it
    since = len(deployment.requests)
    with pytest.raises(aiohttp.WSServerHandshakeError):  # the recording server answers no upgrade: 502
        async with admin.ws_connect(f"/webapi/{NAME}/stream"):
            pass
    handshakes = [h for h in deployment.received[since:] if h.get("Upgrade", "").lower() == "websocket"]
    assert handshakes and "plain=1" in handshakes[-1]["Cookie"]
    assert "sToken" not in handshakes[-1]["Cookie"]


@pytest.fixture
def browser_context(chromium, stack) -> BrowserContext:
    context = chromium.new_context(base_url=stack.base_url)
    context.set_default_timeout(10_000)
    response = context.request.post("/server/login", data={"username": ADMIN_USER[0], "password": ADMIN_USER[1]})
    assert response.ok and response.json()["authenticated"] is True
    yield context
    context.close()


def group_names(context: BrowserContext) -> list[str]:
    response = context.request.get("/api/webapi/groups")
    assert response.ok
    return [group["name"] for group in response.json()["groups"]]


def test_a_deployment_page_does_not_run_as_our_origin(deployment, browser_context, stack):
    ours = stack.config.session.cookie_name
    session_before = [c["value"] for c in browser_context.cookies() if c["name"] == ours]
    page = browser_context.new_page()
    response = page.goto(f"/webapi/{NAME}/page.html")
    assert response.status == 200 and page.locator("#x").text_content() == "deployment page"
    page.wait_for_timeout(1500)  # time for the script's request, had it run
    assert page.evaluate("document.title") == ""  # the inline script never ran
    assert PAWNED_GROUP not in group_names(browser_context)
    cookies = {(c["name"], c["path"]): c["value"] for c in browser_context.cookies()}
    assert [c["value"] for c in browser_context.cookies() if c["name"] == ours] == session_before
    assert not [name for name, _path in cookies if ours.lower() in name.lower() and name != ours]
    assert ("from_script", "/") not in cookies
    assert cookies[("deploy_pref", f"/webapi/{NAME}")] == "1"  # the deployment's own cookie, under its prefix
    # The session still works.
    assert browser_context.request.post("/server/login-check").json()["authenticated"] is True


@pytest.mark.parametrize(
    "path, filename", [("/func/dev/download?size=3000", "data.bin"), (f"/webapi/{NAME}/report.csv", "report.csv")]
)
def test_downloads_still_work_the_way_the_web_ui_starts_them(deployment, browser_context, path, filename):
    """The Web UI clicks an ``<a href download>`` (``_downloadFile``); a plain navigation must work too."""
    page = browser_context.new_page()
    page.goto("/ui/")
    with page.expect_download() as started:
        page.evaluate(
            """([href, name]) => {
            const a = document.createElement("a"); a.href = href; a.download = name;
            document.body.appendChild(a); a.click(); }""",
            [path, filename],
        )
    download = started.value
    assert download.failure() is None and download.suggested_filename == filename
    if path.endswith(".csv"):
        with page.expect_download() as started:
            page.evaluate("href => { location.href = href; }", path)
        assert started.value.failure() is None and started.value.suggested_filename == "report.csv"
        assert started.value.path().read_bytes() == b"a,b\n1,2\n"


def _cookies_at_the_deployment(deployment: RecordingServer, since: int) -> list[str]:
    return [headers.get("Cookie", "") for headers in deployment.received[since:]]


def test_a_manager_cookie_goes_back_to_the_manager_only(deployment, browser_context):
    """A Manager auth plugin sets cookies for the whole site: Chromium must send them to /func only."""
    cookies = [("set_cookie", "plugin_state=s1; Path=/; HttpOnly"), ("set_cookie", "sToken=sso-token; Path=/")]
    answer = browser_context.request.get(f"/func/openid/login?{urlencode(cookies)}")
    assert answer.ok, answer.text()
    paths = {c["name"]: c["path"] for c in browser_context.cookies()}
    assert paths["plugin_state"] == "/func"
    assert paths["sToken"] == "/"  # the SSO token keeps its path: /server/token-login reads it
    assert "plugin_state=s1" in browser_context.request.get("/func/openid/check").json()["cookie"]
    since = len(deployment.requests)
    assert browser_context.request.get(f"/webapi/{NAME}/page.html").ok
    sent = _cookies_at_the_deployment(deployment, since)
    assert sent and not [c for c in sent if "plugin_state" in c or "sToken" in c], sent
