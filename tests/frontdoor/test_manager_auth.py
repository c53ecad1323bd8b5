"""Which proxied paths reach the Manager's password-taking auth endpoints, however they are spelled."""

from __future__ import annotations

import pytest

from frontdoor import manager_auth
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


EVERY_SPELLING = [*REFUSED_SPELLINGS, *LIMITED_SPELLINGS, *UNTOUCHED, "/func/auth/signout#frag", "/func/x%2F..%2Fauth"]


def test_a_remembered_rule_is_the_rule_of_its_path_whatever_was_asked_before() -> None:
    manager_auth._rules_of_paths.clear()
    for _round in range(2):  # the first round normalises and remembers, the second answers from memory
        for path in [*EVERY_SPELLING, *reversed(EVERY_SPELLING)]:
            assert auth_rule(path) is rule_of_every_segment(path), path


def test_a_path_asked_again_is_not_normalised_again(monkeypatch: pytest.MonkeyPatch) -> None:
    manager_auth._rules_of_paths.clear()
    normalised: list[str] = []

    def counted(path: str) -> list[str] | None:
        normalised.append(path)
        return normalised_segments(path)

    monkeypatch.setattr(manager_auth, "normalised_segments", counted)
    for _ in range(3):
        assert auth_rule("/func/auth?echo=1") is None
        assert auth_rule("/func/auth/authorize?type=keypair") is AuthRule.REFUSE
    assert normalised == ["/func/auth", "/func/auth/authorize"]


def test_the_memory_of_rules_is_bounded_in_entries_and_in_path_length() -> None:
    manager_auth._rules_of_paths.clear()
    long_path = "/func/auth/" + "x" * manager_auth.MAX_REMEMBERED_PATH_LENGTH + "/../authorize"
    assert auth_rule(long_path) is AuthRule.REFUSE
    assert long_path not in manager_auth._rules_of_paths
    for number in range(manager_auth.MAX_REMEMBERED_PATHS + 10):
        assert auth_rule(f"/func/auth/{number}") is None
        assert len(manager_auth._rules_of_paths) <= manager_auth.MAX_REMEMBERED_PATHS
    assert auth_rule("/func/auth/signout") is AuthRule.LIMIT_PER_ACCOUNT  # still right after emptying
