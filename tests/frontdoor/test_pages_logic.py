"""The socket-free parts of our pages: language and theme choice, translations, login error
messages, error-page negotiation, and the config.toml the official Web UI loads."""

from __future__ import annotations

import re
import tomllib

import pytest

from contract.config import parse_config
from contract.session_results import (
    InternalError,
    InvalidCommand,
    LoginBlocked,
    ManagerRefused,
    ManagerUnavailable,
    StoreUnavailable,
)
from frontdoor.error_pages import page_keys, wants_html
from frontdoor.pages import login_error
from frontdoor.ui_text import TEXT, choose_language, choose_theme, translator
from frontdoor.webui_config import render_webui_config, toml_list_field, toml_value
from tests.support.paths import REPO_ROOT


@pytest.mark.parametrize(
    "cookie, accept_language, expected",
    [
        ("ko", "en-US,en;q=0.9", "ko"),
        ("en", "ko-KR", "en"),
        (None, "ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        (None, "en-US,ko;q=0.9", "en"),
        (None, "fr-FR,ko;q=0.5", "ko"),
        (None, "ko;q=0, en;q=0.1", "en"),
        (None, "ko;q=0.2, en;q=0.9", "en"),
        (None, None, "en"),
        ("de", "fr", "en"),
        ("<script>", "ko;q=bad", "en"),
    ],
)
def test_choose_language(cookie, accept_language, expected):
    assert choose_language(cookie, accept_language) == expected


@pytest.mark.parametrize("cookie, expected", [("dark", "dark"), ("light", "light"), (None, "auto"), ('x"', "auto")])
def test_choose_theme(cookie, expected):
    assert choose_theme(cookie) == expected


def test_every_language_has_every_string_with_the_same_placeholders():
    placeholders = lambda text: set(re.findall(r"{(\w+)}", text))  # noqa: E731
    for language, table in TEXT.items():
        assert table.keys() == TEXT["en"].keys(), language
        for key, text in table.items():
            assert placeholders(text) == placeholders(TEXT["en"][key]), (language, key)


def test_every_key_used_in_templates_exists():
    used = set()
    for template in (REPO_ROOT / "frontdoor" / "templates" / "ui").glob("*.html"):
        used |= set(re.findall(r"""t\(["'](\w+)["']""", template.read_text()))
    assert used and used <= TEXT["en"].keys()


PROBS = "https://api.backend.ai/probs/"


@pytest.mark.parametrize(
    "result, key, values",
    [
        (ManagerRefused(401, PROBS + "auth-failed", "x"), "error_wrong_password", {}),
        (LoginBlocked(61), "error_blocked", {"minutes": 2}),
        (LoginBlocked(5), "error_blocked", {"minutes": 1}),
        (ManagerRefused(429, PROBS + "too-many-requests", "Slow down"), "error_blocked", {"minutes": 1}),
        (ManagerUnavailable("Cannot connect to the Manager."), "error_manager_unreachable", {}),
        (ManagerRefused(504, "about:blank", "Gateway Timeout"), "error_manager_unreachable", {}),
        (StoreUnavailable(), "error_service_down", {}),
        (ManagerRefused(503, "about:blank", "Service Unavailable"), "error_service_down", {}),
        (
            ManagerRefused(403, PROBS + "generic-forbidden", "Forbidden", "User is inactive."),
            "error_login_failed",
            {"reason": "User is inactive."},
        ),
        (ManagerRefused(400, "about:blank", "Bad Request"), "error_login_failed", {"reason": "Bad Request"}),
        (
            InvalidCommand("You must provide the username field."),
            "error_login_failed",
            {"reason": "You must provide the username field."},
        ),
        (InternalError(), "error_login_failed", {"reason": "Internal server error."}),
    ],
)
def test_login_error_messages(result, key, values):
    assert login_error(result) == (key, values)
    translator("ko")(key, **values)  # every message renders in every language


def test_blocked_message_names_the_minutes():
    key, values = login_error(LoginBlocked(1200))
    assert translator("en")(key, **values) == "Too many failed attempts. Try again in 20 minute(s)."


@pytest.mark.parametrize(
    "accept, expected",
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/xhtml+xml", True),
        ("*/*", False),
        ("application/json", False),
        ("text/html;q=0", False),
        ("text/html; q=0.5", True),
        (None, False),
    ],
)
def test_wants_html(accept, expected):
    assert wants_html(accept) is expected


@pytest.mark.parametrize(
    "status, title, text",
    [
        (404, "error_title_404", "error_text_404"),
        (403, "error_title_403", "error_text_403"),
        (500, "error_title_500", "error_text_5xx"),
        (502, "error_title_502", "error_text_5xx"),
        (507, "error_title_other", "error_text_5xx"),
        (418, "error_title_other", "error_text_other"),
    ],
)
def test_error_page_keys(status, title, text):
    assert page_keys(status) == (title, text)
    assert title in TEXT["en"] and text in TEXT["en"]


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, "true"),
        (False, "false"),
        (10, "10"),
        (2.0, "2.0"),
        (float("nan"), None),
        (None, None),
        ({"a": 1}, None),
        ("plain", '"plain"'),
        ('quote " and \\ and\nnewline', '"quote \\" and \\\\ and\\nnewline"'),
        ("한글", '"\\ud55c\\uae00"'),
        (["a", "b"], '["a", "b"]'),
    ],
)
def test_toml_value(value, expected):
    assert toml_value(value) == expected
    if expected is not None:
        assert tomllib.loads(f"k = {expected}")["k"] == value


def test_list_fields_are_comma_joined_like_backend_ai():
    assert toml_list_field("singleSignOnVendors", ["saml", "openid"]) == 'singleSignOnVendors = "saml,openid"'
    assert toml_list_field("allowlist", None) == "# allowlist = "


def test_config_toml_defaults_and_session_mode():
    text = render_webui_config(parse_config({}), "http://127.0.0.1:8090")
    doc = tomllib.loads(text)
    assert doc["general"]["apiEndpoint"] == "http://127.0.0.1:8090"
    assert doc["general"]["connectionMode"] == "SESSION"
    assert doc["general"]["apiEndpointText"] == "Backend.AI"
    assert doc["general"]["hideAgents"] is True
    assert "siteDescription" not in doc["general"]  # unset: commented out, as Backend.AI does
    assert doc["resources"]["maxFileUploadSize"] == 4294967296
    assert doc["license"]["edition"] == "Open Source"
    assert doc["pipeline"]["endpoint"] == "http://127.0.0.1:9500"


def test_config_toml_takes_the_operators_values_and_cannot_be_broken_out_of():
    config = parse_config(
        {
            "service": {
                "enable-signup": True,
                "single_sign_on_vendors": "saml,openid",
                "wsproxy": {"url": "http://ws:5050"},
            },
            "ui": {"brand": 'Lab"\n[evil]\nx = 1', "menu_blocklist": ["statistics", "pipeline"]},
            "resources": {"max_cpu_cores_per_container": 8},
            "api": {"text": "Our cluster"},
        }
    )
    doc = tomllib.loads(render_webui_config(config, 'http://host"\n[injected]'))
    assert set(doc) == {"general", "resources", "environments", "menu", "plugin", "wsproxy", "license", "pipeline"}
    assert doc["general"]["apiEndpoint"] == 'http://host"\n[injected]'
    assert doc["general"]["siteDescription"] == 'Lab"\n[evil]\nx = 1'
    assert doc["general"]["signupSupport"] is True
    assert doc["general"]["singleSignOnVendors"] == "saml,openid"
    assert doc["general"]["apiEndpointText"] == "Our cluster"
    assert doc["menu"]["blocklist"] == "statistics,pipeline"
    assert doc["resources"]["maxCPUCoresPerContainer"] == 8
    assert doc["wsproxy"]["proxyURL"] == "http://ws:5050"
