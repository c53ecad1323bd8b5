"""Backend.AI 23.09's special /func routes as rules (frontdoor.special_routes), and the config keys they use."""

from __future__ import annotations

import jwt
import pytest

from contract.config import ConfigError, parse_config
from frontdoor.pipeline import credential_login, hs256_jwt, pipeline_token
from frontdoor.special_routes import (
    _AUTH_PLUGIN_HEADS,
    _RULES,
    Special,
    limited_like_login,
    path_for_logs,
    special_route,
)


@pytest.mark.parametrize(
    "method, path, kind",
    [
        ("GET", "ping", Special.PING),
        ("POST", "ping", None),
        ("HEAD", "folders/_/tus/upload/tok", Special.TUS_UPLOAD),
        ("PATCH", "folders/_/tus/upload/tok", Special.TUS_UPLOAD),
        ("OPTIONS", "folders/_/tus/upload/tok", Special.TUS_UPLOAD),
        ("POST", "folders/_/tus/upload/tok", None),  # Backend.AI signs this one
        ("POST", "saml/login", Special.AUTH_PLUGIN),
        ("GET", "saml/login", None),
        ("GET", "openid/login", Special.AUTH_PLUGIN),
        ("POST", "custom-auth/x", Special.AUTH_PLUGIN),
        ("GET", "cloud/x/y", Special.AUTH_PLUGIN),
        ("DELETE", "cloud/x", None),
        ("GET", "cloudy/x", None),
        ("GET", "auth/signup", None),
    ],
)
def test_special_route_table(method, path, kind):
    assert special_route(method, path) is kind


@pytest.mark.parametrize(
    "method, path, enabled, limited",
    [
        ("POST", "/func/auth/signup", True, True),
        ("POST", "/func/auth/signup", False, False),  # refused by name before any limit
        ("POST", "/func/saml/x", False, True),
        ("GET", "/func/openid/x", False, True),
        ("HEAD", "/func/folders/_/tus/upload/t", True, False),
        ("GET", "/func/ping", True, False),
        ("GET", "/webapi/saml/x", True, False),
    ],
)
def test_anonymous_auth_paths_share_the_login_limit(method, path, enabled, limited):
    assert limited_like_login(method, path, enabled) is limited


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/func/folders/_/tus/upload/eyJ.a.b", "/func/folders/_/tus/upload/<token>"),
        ("/webapi/store/folders/_/tus/upload/tok/more", "/webapi/store/folders/_/tus/upload/<token>"),
        ("/func/folders/_/tus/upload/", "/func/folders/_/tus/upload/"),
        ("/func/folders/x/files", "/func/folders/x/files"),
    ],
)
def test_path_for_logs_leaves_a_tus_upload_token_out(path, logged):
    assert path_for_logs(path) == logged


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"pipeline": {"endpoint": "ftp://x"}}, "pipeline.endpoint"),
        ({"pipeline": {"frontend_endpoint": "http://u:p@x"}}, "pipeline.frontend_endpoint"),
        ({"pipeline": {"endpoint": "http://x:99999"}}, "pipeline.endpoint"),
        ({"pipeline": {"endpoint": "http://[::1"}}, "pipeline.endpoint"),
        ({"pipeline": {"endpoint": "http:///no-host"}}, "pipeline.endpoint"),
        ({"pipeline": {"endpoint": "http://x/?q=1"}}, "pipeline.endpoint"),
        ({"pipeline": {"jwt": {"secret": "short"}}}, "pipeline.jwt.secret"),
        ({"service": {"enable_signup": "perhaps"}}, "service.enable_signup"),
    ],
)
def test_check_config_names_bad_values(raw, named):
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert any(problem.startswith(named + ":") for problem in caught.value.problems)


def test_pipeline_token_has_backend_ai_claims_but_no_session():
    config = parse_config({"pipeline": {"jwt": {"secret": "s" * 40}}, "session": {"max_age": 100}})
    claims = jwt.decode(
        pipeline_token(config, "AKIA1", now=1000), "s" * 40, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims == {"exp": 1100, "iss": "Backend.AI Webserver", "iat": 1000, "access_key": "AKIA1"}
    assert "secret" not in repr(config.pipeline)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 1100, "iss": "Backend.AI Webserver", "iat": 1000, "access_key": "AKIA1"},
        {"iat": 0, "access_key": "키-é\u2028", "iss": "x"},  # non-ASCII: escaped as PyJWT escapes it
    ],
)
def test_the_pipeline_token_is_written_byte_for_byte_as_pyjwt_writes_it(claims):
    # Written without PyJWT (which loads cryptography into the front door); the same bytes either way.
    secret = "t" * 40
    assert hs256_jwt(claims, secret) == jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "method, raw_rest, refused",
    [
        ("POST", "/auth-token/", True),
        ("POST", "/auth-token", True),
        ("POST", "/api/auth%2Dtoken/?x=1", True),
        ("POST", "/users/login/", True),
        ("DELETE", "/auth-token/", False),  # the UI's pipeline logout carries nothing
        ("GET", "/api/users/me/", False),
        ("POST", "/api/pipelines/", False),
    ],
)
def test_pipeline_logins_are_recognised(method, raw_rest, refused):
    assert credential_login(method, raw_rest) is refused


def first_rule(method: str, path: str) -> Special | None:
    """The rules tried one by one, in order: what the one pattern per method must give."""
    for methods, pattern, kind in _RULES:
        if method in methods and pattern.fullmatch(path):
            return kind
    return None


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "PATCH", "OPTIONS", "PUT", "DELETE", "get"])
@pytest.mark.parametrize(
    "path",
    [
        "ping",
        "ping/",
        "pingping",
        "",
        "cloud/",
        "cloud",
        "cloud/x\ny",
        "custom-auth/a/b",
        "openid/",
        "saml/x",
        "folders/_/tus/upload/t",
        "folders/_/tus/upload",
        "x/cloud/y",
        "auth/signup",
        "cloud/ping",
    ],
)
def test_one_pattern_per_method_gives_the_first_matching_rule(method, path):
    assert special_route(method, path) is first_rule(method, path)


def test_the_login_limit_is_told_by_the_rules_whatever_the_shortcut():
    # limited_like_login rules most paths out by their first characters before the rules' patterns
    # run: it must answer exactly as the patterns alone would.
    rests = [
        "cloud/x",
        "cloud/",
        "cloud",
        "cloudy/x",
        "Cloud/x",
        "custom-auth/a/b",
        "custom-auth",
        "openid/login",
        "saml/login",
        "saml",
        "ping",
        "session/abc/logs",
        "folders/_/tus/upload/t",
        "cloud/x\nmore",
        "",
        "auth/signup",
        "openid/\u00e9",
        " cloud/x",
    ]
    methods = ["GET", "POST", "HEAD", "PATCH", "OPTIONS", "DELETE", "PUT", "get"]
    for rest in rests:
        for method in methods:
            expected = special_route(method, rest) is Special.AUTH_PLUGIN
            assert limited_like_login(method, "/func/" + rest, False) is expected, (method, rest)
    heads = tuple(pattern.pattern.removesuffix(".*") for _m, pattern, kind in _RULES if kind is Special.AUTH_PLUGIN)
    assert _AUTH_PLUGIN_HEADS == heads  # every auth plugin's rule is a literal head: the shortcut is on
