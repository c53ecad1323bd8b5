"""The Web API Groups pages in headless Chromium: overview with state icons, the Unknown tab, the
add-group flow with its reminder dialog, and Shutdown with its confirmation.  Screenshots are kept."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow


def open_as(chromium, stack, user) -> Page:
    context = chromium.new_context(base_url=stack.base_url, locale="en-US", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/ui/webapi")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#login-button")
    expect(page).to_have_url(re.compile(r"/ui/webapi$"))
    return page


def test_overview_unknown_tab_add_group_reminder_and_shutdown(chromium, groups_stack, agents):
    page = open_as(chromium, groups_stack, ADMIN_USER)
    default = page.locator('section.group[data-group="DEFAULT"]')
    expect(default.locator('tr.agent[data-state="UP"]')).to_have_count(2)
    expect(default.locator(".state-icon.ok").first).to_have_text("✔")
    expect(default.locator('tr.deployment[data-deployment="manager"]')).to_be_visible()
    expect(default.locator("tr.agent td.serving").first).to_contain_text("manager")  # what each agent serves

    agents.start("ui-agent", "UI_GROUP")
    page.click("#tab-unknown")
    unknown_row = page.locator('#unknown-panel tr.agent[data-agent="ui-agent"]')
    expect(unknown_row).to_have_attribute("data-state", "STARTING")
    expect(unknown_row.locator(".state-icon.spin")).to_be_visible()
    screenshot(page, "webapi-unknown-tab")

    page.click("#tab-groups")
    page.click("#add-group")
    page.fill("#group-name", "UI_GROUP")
    page.click("#add-grant")
    page.locator("tr.grant .grant-subject").nth(1).fill("role:user")
    screenshot(page, "webapi-add-group")
    page.click("#group-create")
    expect(page.locator("#reminder-dialog")).to_be_visible()
    expect(page.locator("#reminder-command")).to_contain_text("WEBAPI_GROUP_NAME=UI_GROUP")
    screenshot(page, "webapi-reminder")
    page.click("#reminder-ok")
    joined = page.locator('section.group[data-group="UI_GROUP"] tr.agent[data-agent="ui-agent"]')
    expect(joined).to_have_attribute("data-state", "UP", timeout=20_000)
    expect(joined.locator(".shutdown-button")).to_have_count(0)  # only offered in an error state

    # A faulty deployment turns the agent Out Of Service; Shutdown is then offered and confirmed.
    # (stored around the API, which refuses it on its face, as etcdctl or an older version could have)
    groups_stack.etcd_put(
        "deployments",
        "ui-broken",
        json.dumps(
            {
                "name": "ui-broken",
                "group": "UI_GROUP",
                "route_prefix": "/webapi/ui-broken",
                "upstreams": ["ftp://nowhere"],
                "signing": "none",
            }
        ).encode(),
    )
    expect(joined).to_have_attribute("data-state", "OUT_OF_SERVICE", timeout=20_000)
    expect(joined.locator("td.fault")).to_contain_text("ui-broken")
    page.click('tr.agent[data-agent="ui-agent"] .shutdown-button')
    expect(page.locator("#shutdown-dialog")).to_be_visible()
    expect(page.locator("#shutdown-agent")).to_have_text("ui-agent")
    screenshot(page, "webapi-shutdown-confirm")
    page.click("#shutdown-confirm")
    expect(page.locator("#shutdown-dialog")).to_be_hidden()
    assert agents.processes["ui-agent"].wait(timeout=15) == 0
    expect(joined).to_have_attribute("data-state", "UNKNOWN", timeout=20_000)
    screenshot(page, "webapi-overview")
    page.evaluate("fetch('/api/webapi/deployments/ui-broken', {method: 'DELETE'})")


def test_a_plain_user_sees_only_readable_groups_and_no_admin_controls(chromium, groups_stack):
    page = open_as(chromium, groups_stack, NORMAL_USER)
    expect(page.locator('section.group[data-group="DEFAULT"]')).to_be_visible()
    expect(page.locator("#add-group")).to_be_hidden()
    expect(page.locator("#tab-unknown")).to_be_hidden()
    expect(page.locator(".shutdown-button")).to_have_count(0)
    screenshot(page, "webapi-user-view")
