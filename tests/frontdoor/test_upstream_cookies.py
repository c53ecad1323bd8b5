"""Cookies both ways, as tables: each upstream's cookies go back to it only, credentials only to the Manager."""

import pytest

from frontdoor.upstream import contained_cookie, cookie_rules, forwarded_cookies

MANAGER = cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
DEPLOYMENT = cookie_rules("AIOHTTP_SESSION", "sToken", "/webapi/x", manager=False)
PIPELINE = cookie_rules("AIOHTTP_SESSION", "sToken", "/pipeline", manager=False)


# ---- Set-Cookie from upstream: never ours, never beyond the upstream's route prefix ----


@pytest.mark.parametrize("rules", [MANAGER, DEPLOYMENT, PIPELINE], ids=["manager", "deployment", "pipeline"])
@pytest.mark.parametrize(
    "set_cookie",
    [
        "AIOHTTP_SESSION=evil; Path=/",
        "aiohttp_session=evil",
        " AIOHTTP_SESSION =evil",
        "__Host-AIOHTTP_SESSION=evil; Path=/; Secure",
        "__Secure-aiohttp_session=evil; Secure",
        "__HOST-__Secure-AIOHTTP_SESSION=evil",
        "=AIOHTTP_SESSION=evil",  # nameless: sent back as a bare value
        "AIOHTTP_SESSION",
        "",
    ],
)
def test_no_upstream_sets_our_session_cookie_or_a_nameless_one(rules, set_cookie):
    assert contained_cookie(set_cookie, rules) is None


@pytest.mark.parametrize(
    "set_cookie, rules, relayed",
    [
        # The Manager's cookies go back to /func only: a browser never sends them to /webapi/<name>.
        ("x=1; Path=/", MANAGER, "x=1; Path=/func"),
        ("x=1", MANAGER, "x=1; Path=/func"),
        ("x=1; Domain=.example.com; Path=/; HttpOnly; Secure", MANAGER, "x=1; HttpOnly; Secure; Path=/func"),
        ("x=1; path=/webapi/x; SameSite=Lax", MANAGER, "x=1; SameSite=Lax; Path=/func"),
        # The Manager's SSO token cookie keeps its Path (/server/token-login reads it), never its Domain.
        ("sToken=t; Path=/; Domain=example.com; Secure", MANAGER, "sToken=t; Path=/; Secure"),
        ("__Secure-stoken=t; Path=/", MANAGER, "__Secure-stoken=t; Path=/"),
        # Another upstream's SSO-named cookie is confined like any other.
        ("sToken=t; Path=/", DEPLOYMENT, "sToken=t; Path=/webapi/x"),
        ("sToken=t; Path=/", PIPELINE, "sToken=t; Path=/pipeline"),
        ("theme=dark; Path=/; Domain=.example.com; HttpOnly", DEPLOYMENT, "theme=dark; HttpOnly; Path=/webapi/x"),
        (
            "t=1; domain=example.com; path=/ui; SameSite=Lax; Secure",
            DEPLOYMENT,
            "t=1; SameSite=Lax; Secure; Path=/webapi/x",
        ),
        ("t=a=b; Max-Age=60", DEPLOYMENT, "t=a=b; Max-Age=60; Path=/webapi/x"),
        ("AIOHTTP_SESSION_2=x", DEPLOYMENT, "AIOHTTP_SESSION_2=x; Path=/webapi/x"),
        ("p=1; Path=/", PIPELINE, "p=1; Path=/pipeline"),
    ],
)
def test_each_upstreams_cookies_go_back_to_it_only(set_cookie, rules, relayed):
    assert contained_cookie(set_cookie, rules) == relayed


def test_a_configured_prefixed_cookie_name_is_protected_under_every_spelling():
    rules = cookie_rules("__Host-sid", "sToken", "/func", manager=True)
    for name in ("__Host-sid", "sid", "__Secure-SID"):
        assert contained_cookie(f"{name}=evil", rules) is None


# ---- Cookie going up: never ours; the SSO token to the Manager only ----


@pytest.mark.parametrize(
    "cookie_header, rules, forwarded",
    [
        ("AIOHTTP_SESSION=abc; sToken=t; theme=dark", MANAGER, "sToken=t; theme=dark"),
        ("AIOHTTP_SESSION=abc", MANAGER, None),
        ("__Secure-aiohttp_session=abc; a=1", MANAGER, "a=1"),
        ("AIOHTTP_SESSION=abc; sToken=t; theme=dark", DEPLOYMENT, "theme=dark"),
        ("STOKEN=t; __Secure-sToken=t; __Host-stoken=t; a=1", DEPLOYMENT, "a=1"),
        ("sToken=t", PIPELINE, None),
        ("a=1;b=2 ; =bare", DEPLOYMENT, "a=1; b=2; =bare"),
        (None, DEPLOYMENT, None),
        ("", MANAGER, None),
    ],
)
def test_what_each_upstream_gets_of_the_browsers_cookies(cookie_header, rules, forwarded):
    assert forwarded_cookies(cookie_header, rules.withheld) == forwarded


def test_a_configured_token_name_is_withheld_from_deployments_only():
    deployment = cookie_rules("sid", "portal_token", "/webapi/x", manager=False)
    manager = cookie_rules("sid", "portal_token", "/func", manager=True)
    assert forwarded_cookies("portal_token=t; sToken=u", deployment.withheld) == "sToken=u"
    assert forwarded_cookies("portal_token=t; sToken=u", manager.withheld) == "portal_token=t; sToken=u"
