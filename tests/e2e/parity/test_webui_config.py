"""The Web UI's settings on a running front door: /config.toml leaves out what Backend.AI leaves out,
and the bundle's pages carry [security.csp]'s sources (a wsproxy on another origin) on top of ours."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from contract.csp import parse_policy
from tests.e2e.parity.conftest import BUNDLE_INDEX, WSPROXY
from webui_host import cli


@pytest.fixture
async def web(parity_stack):
    async with parity_stack.client() as session:
        yield session


async def test_config_toml_leaves_unset_optional_keys_out(web):
    async with web.get("/config.toml") as answer:
        assert answer.status == 200
        text = await answer.text()
    general = tomllib.loads(text)["general"]
    assert "isDirectorySizeVisible" not in general and "\n# isDirectorySizeVisible = \n" in text
    assert "enableExtendLoginSession" not in general
    assert general["hideAgents"] is True and general["connectionMode"] == "SESSION"


@pytest.mark.parametrize(
    "path, headers",
    [("/", {"Accept": "text/html"}), ("/index.html", {}), ("/summary", {"Accept": "text/html"})],
)
async def test_bundle_pages_carry_the_operators_connect_src_and_our_defaults(web, path, headers):
    async with web.get(path, headers=headers) as answer:
        assert answer.status == 200
        assert await answer.text() == BUNDLE_INDEX
        policy = dict(parse_policy(answer.headers["Content-Security-Policy"]))
    assert policy["connect-src"] == ["'self'", WSPROXY]
    assert policy["font-src"] == ["'self'", "data:"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" in policy["script-src"]  # 23.09's inline scripts carry no nonce


async def test_api_answers_keep_the_non_page_policy(web):
    async with web.post("/server/login-check") as answer:
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    "table, named",
    [
        ('connect-src = ["\'self\'", "https://ws example.com"]', "security.csp.connect-src"),
        ("script-src-elem = [\"'self'\"]", "security.csp.script-src-elem"),
        ('connect-src = ["self"]', "security.csp.connect-src"),
    ],
)
def test_check_config_refuses_an_invalid_csp_by_name(tmp_path: Path, capsys, table, named):
    path = tmp_path / "webui-host.toml"
    path.write_text(f"[security.csp]\ndefault-src = [\"'self'\"]\n{table}\n")
    status = cli.main(["check-config", "-f", str(path)])
    assert status != 0
    assert named in capsys.readouterr().err


@pytest.mark.parametrize(
    "path, status",
    [
        ("/func/.git", 403),
        ("/static/.svn", 403),
        ("/x/BitKeeper", 403),
        ("/backup/.bak", 403),
        ("/.log", 403),
        ("/server/.hg", 403),
        ("/ui/BitKeeper", 403),
        ("/index.html", 200),
        ("/x/BitKeeper.txt", 404),
        ("/app.css", 200),
    ],
)
async def test_backend_ai_request_policies_are_honoured(web, path, status):
    async with web.get(path) as answer:
        assert answer.status == status
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
