"""Which proxied paths reach the Manager's password-taking auth endpoints, however they are spelled."""

from __future__ import annotations

import pytest

from frontdoor.manager_auth import RULES, AuthRule, auth_rule, normalised_segments

REFUSED_SPELLINGS = [
    "/func/auth/authorize",
    "/func/auth/authorize/",
    "/func/auth/authorize?type=keypair",
    "/func/AUTH/Authorize",
    "/func/auth%2Fauthorize",
    "/func/auth%2fauthorize",
    "/func/auth%252Fauthorize",  # encoded twice
    "/func/%61uth/%61uthorize",
    "/func//auth/authorize",
    "/func/auth//authorize",
    "/func/auth/./authorize",
    "/func/./auth/authorize",
    "/func/x/../auth/authorize",
    "/func/auth/authorize;jsessionid=1",
    "/func/auth\\authorize",
    "/func/v4/auth/authorize",  # a Manager behind a path prefix
    "/webapi/other/auth/authorize",  # another deployment's Manager
    "/func/auth/signup",
    "/func/Auth/SignUp/",
    "/func/auth/update-password-no-auth",
    "/func/auth%2Fupdate-password-no-auth",
    "/func/%" + "25" * 9 + "61uth/authorize",  # encoded ten times: decoding never settles
]
LIMITED_SPELLINGS = [
    "/func/auth/update-password",
    "/func//AUTH/update-password/",
    "/func/auth%2Fupdate-password",
    "/func/auth/signout",
    "/func/auth/./signout?x=1",
]
UNTOUCHED = [
    "/func/",
    "/func/auth",
    "/func/auth/role",
    "/func/auth/test",
    "/func/auth/ssh-keypair",
    "/func/auth/authorized",
    "/func/auth/authorize-me",
    "/func/authorize",
    "/func/admin/gql",
    "/func/folders/auth/files",
    "/func/auth/authorize/../role",
]


@pytest.mark.parametrize("path", REFUSED_SPELLINGS)
def test_password_in_key_out_endpoints_are_refused(path: str) -> None:
    assert auth_rule(path) is AuthRule.REFUSE


@pytest.mark.parametrize("path", LIMITED_SPELLINGS)
def test_own_password_checks_are_limited_per_account(path: str) -> None:
    assert auth_rule(path) is AuthRule.LIMIT_PER_ACCOUNT


@pytest.mark.parametrize("path", UNTOUCHED)
def test_other_paths_pass(path: str) -> None:
    assert auth_rule(path) is None


def rule_of_every_segment(raw_path: str) -> AuthRule | None:
    """The rule as the path's normalised segments give it, with no shortcut taken."""
    segments = normalised_segments(raw_path)
    if segments is None:
        return AuthRule.REFUSE
    return RULES.get(tuple(segments[-2:])) if len(segments) >= 2 else None


@pytest.mark.parametrize(
    "path",
    [
        *REFUSED_SPELLINGS,
        *LIMITED_SPELLINGS,
        *UNTOUCHED,
        "/func/session/abc/logs?owner_access_key=x",
        "/func/folders/x/files?path=auth/authorize",  # the query is not the path
        "/func/AuTh\\SIGNOUT",
        "/func/auth /signout ",
        "/func/auth/signout#frag",
        "/func/x%2F..%2Fauth%2Fsignout",
    ],
)
def test_the_shortcut_for_paths_without_auth_gives_the_full_answer(path: str) -> None:
    assert auth_rule(path) is rule_of_every_segment(path)
