"""The failed-login counter counts per account, not per spelling: a real session daemon, redis-server
and the devstack Manager (which, like Backend.AI's, matches e-mail addresses without regard to case).
Spellings that are no valid login name at all (blanks, a full-width '@') are refused before any count."""

from __future__ import annotations

import pytest

from contract.session_commands import Login, SessionRequest
from contract.session_results import InvalidCommand, LoginBlocked, SessionReply
from tests.session_daemon.harness import ADMIN, ADMIN_PASSWORD, ALLOWED_FAILS, WRONG_PASSWORD, Running, history_of

SPELLINGS = [
    pytest.param("Admin@lablup.com", id="capital-first"),
    pytest.param("ADMIN@LABLUP.COM", id="all-capitals"),
    pytest.param("\uff41\uff44\uff4d\uff49\uff4e@lablup.com", id="full-width-letters"),
    pytest.param("\uff21\uff24\uff2d\uff29\uff2e@lablup.com", id="full-width-capitals"),
]
INVALID_SPELLINGS = [
    pytest.param(" admin@lablup.com ", id="surrounding-blanks"),
    pytest.param("\u3000admin@lablup.com", id="ideographic-space"),
    pytest.param("\uff21\uff24\uff2d\uff29\uff2e\uff20lablup.com", id="full-width-capitals-and-at"),
]


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_a_blocked_account_stays_blocked_under_another_spelling(env: Running, spelling: str) -> None:
    for _ in range(ALLOWED_FAILS):
        assert await env.client.login(password="wrong") == WRONG_PASSWORD
    result = await env.client.login(username=spelling, password=ADMIN_PASSWORD)
    assert isinstance(result, LoginBlocked), result


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_failures_under_other_spellings_count_for_the_account(env: Running, spelling: str) -> None:
    for _ in range(ALLOWED_FAILS):
        assert await env.client.login(username=spelling, password="wrong") == WRONG_PASSWORD
    result = await env.client.login(username=ADMIN, password=ADMIN_PASSWORD)
    assert isinstance(result, LoginBlocked), result


@pytest.mark.parametrize("spelling", INVALID_SPELLINGS)
async def test_an_invalid_spelling_is_refused_and_not_counted(env: Running, spelling: str) -> None:
    # Sent as the wire item a front door of another build could send: the daemon decodes it by the same rule.
    item = SessionRequest(1, Login(ADMIN, "wrong")).to_wire()
    item["args"]["username"] = spelling
    [reply] = await env.client.exchange("session", [item])
    assert isinstance(SessionReply.from_wire(reply).result, InvalidCommand)
    assert history_of(env.admin, ADMIN) is None
