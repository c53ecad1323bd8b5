"""Which proxied paths reach the Manager's password-taking auth endpoints, however they are spelled."""

from __future__ import annotations

import pytest

from frontdoor.manager_auth import AuthRule, auth_rule

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
