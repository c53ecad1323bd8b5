"""Our pages in a real browser: Debian's headless Chromium driven by Playwright, against the real
stack.  Screenshots go to test-artifacts/screenshots/ for a human to look at."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import screenshot
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow


@pytest.fixture
def ui_context(chromium, stack) -> BrowserContext:
    context = chromium.new_context(base_url=stack.base_url, color_scheme="light", locale="en-US")
    context.set_default_timeout(10_000)
    yield context
    context.close()


def log_in(page: Page, user: tuple[str, str] = ADMIN_USER) -> None:
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#login-button")


def end_session_elsewhere(context: BrowserContext, stack) -> None:
    """Log the browser's session out from another client, as another tab or a revocation would."""
    name = stack.config.session.cookie_name
    value = next(c["value"] for c in context.cookies() if c["name"] == name)
    request = urllib.request.Request(
        f"{stack.base_url}/server/logout", data=b"", method="POST", headers={"Cookie": f"{name}={value}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201  # Backend.AI 23.09's logout answer


def test_log_in_see_home_extend_call_the_console_and_log_out(ui_context):
    page = ui_context.new_page()
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/&reason=login_required$"))
    screenshot(page, "login")
    log_in(page)
    expect(page).to_have_url(re.compile(r"/ui/$"))
    expect(page.locator("#user-id")).to_have_text(ADMIN_USER[0])
    expect(page.locator("#user-role")).to_have_text("superadmin")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^6d 23:5\d:\d\d$"))
    first = int(page.locator("#countdown").get_attribute("data-remaining"))
    expect(page.locator("#countdown")).not_to_have_attribute("data-remaining", str(first))  # it counts down
    page.click("#extend-session")
    expect(page.locator("#extend-message")).to_have_text("Session extended.")
    screenshot(page, "home")

    page.click("nav >> text=API console")
    expect(page).to_have_url(re.compile(r"/ui/console"))
    page.fill("#console-path", "auth?echo=from-chromium")
    page.click("#console-send")
    expect(page.locator("#console-status")).to_have_attribute("data-status", "200")
    expect(page.locator("#console-body")).to_contain_text('"echo": "from-chromium"')
    page.fill("#console-path", "no/such/endpoint")
    page.click("#console-send")
    expect(page.locator("#console-status")).to_have_attribute("data-status", "404")
    screenshot(page, "console")

    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/ui/login\?reason=logged_out$"))
    expect(page.locator("#login-notice")).to_have_text("You have logged out.")
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))


def test_wrong_password_shows_a_clear_message(ui_context):
    page = ui_context.new_page()
    page.goto("/ui/login")
    log_in(page, (NORMAL_USER[0], "wrong-password"))
    expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    expect(page.locator("#username")).to_have_value(NORMAL_USER[0])
    expect(page.locator("#password")).to_have_value("")
    screenshot(page, "login-wrong-password")
    log_in(page, NORMAL_USER)
    expect(page.locator("#user-id")).to_have_text(NORMAL_USER[0])


def test_an_expired_session_goes_to_login_and_back_to_the_console(ui_context, stack):
    page = ui_context.new_page()
    page.goto("/ui/login?next=/ui/console")
    log_in(page)
    expect(page).to_have_url(re.compile(r"/ui/console$"))
    end_session_elsewhere(ui_context, stack)
    page.fill("#console-path", "auth?echo=again")
    page.click("#console-send")  # the call gets 401: back to login, with a message and the way back
    expect(page).to_have_url(
        re.compile(r"/ui/login\?reason=expired&next=%2Fui%2Fconsole%3Fpath%3Dauth%253Fecho%253Dagain$")
    )
    expect(page.locator("#login-notice")).to_have_text("Your session has expired. Please log in again.")
    screenshot(page, "login-expired")
    log_in(page)
    expect(page).to_have_url(re.compile(r"/ui/console\?path=auth%3Fecho%3Dagain$"))
    expect(page.locator("#console-path")).to_have_value("auth?echo=again")


def test_when_the_countdown_runs_out_the_page_goes_to_login(ui_context, stack):
    page = ui_context.new_page()
    page.clock.install()  # the page's timers run on a clock the test moves
    page.goto("/ui/login")
    log_in(page)
    expect(page.locator("#user-id")).to_have_text(ADMIN_USER[0])
    end_session_elsewhere(ui_context, stack)  # as the server's expiry would
    page.clock.fast_forward((stack.config.session.max_age + 1) * 1000)  # past the session's lifetime
    expect(page).to_have_url(re.compile(r"/ui/login\?reason=expired&next=%2Fui%2F$"))
    expect(page.locator("#login-notice")).to_have_text("Your session has expired. Please log in again.")


def test_theme_and_language_switch_and_stick(ui_context):
    page = ui_context.new_page()
    page.goto("/ui/login")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "auto")
    light_background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme-toggle")
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light_background
    assert page.evaluate("localStorage.getItem('webui.theme')") == "dark"
    page.select_option("#language-select", "ko")
    page.wait_for_load_state()
    expect(html).to_have_attribute("lang", "ko")
    expect(html).to_have_attribute("data-theme", "dark")  # rendered so by the server, from the cookie
    expect(page.locator("#login-button")).to_have_text("로그인")
    screenshot(page, "login-dark-ko")
    page.click("#theme-toggle")
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")


def test_mobile_viewport_has_no_horizontal_scrolling(chromium, stack):
    context = chromium.new_context(
        base_url=stack.base_url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.new_page()
        page.goto("/ui/login")
        log_in(page)
        expect(page.locator("#user-id")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "mobile-home")
        page.goto("/ui/console")
        button = page.locator("#console-send").bounding_box()
        assert button["x"] >= 0 and button["x"] + button["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "mobile-console")
    finally:
        context.close()
