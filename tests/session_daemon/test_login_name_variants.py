"""The failed-login counter counts per account, not per spelling: a real session daemon, redis-server
and the devstack Manager (which, like Backend.AI's, matches e-mail addresses without regard to case)."""

from __future__ import annotations

import pytest

from tests.session_daemon.test_service import (  # noqa: F401  (fixtures)
    ADMIN,
    ADMIN_PASSWORD,
    ALLOWED_FAILS,
    PROBS,
    Running,
    env,
    ipc_dir,
    manager,
    start_daemon,
)

SPELLINGS = [
    pytest.param("Admin@lablup.com", id="capital-first"),
    pytest.param("ADMIN@LABLUP.COM", id="all-capitals"),
    pytest.param(" admin@lablup.com ", id="surrounding-blanks"),
    pytest.param("\u3000admin@lablup.com", id="ideographic-space"),
    pytest.param("\uff41\uff44\uff4d\uff49\uff4e@lablup.com", id="full-width-letters"),
    pytest.param("\uff21\uff24\uff2d\uff29\uff2e\uff20lablup.com", id="full-width-capitals-and-at"),
]


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_a_blocked_account_stays_blocked_under_another_spelling(env: Running, spelling: str) -> None:
    for _ in range(ALLOWED_FAILS):
        assert (await env.client.login(password="wrong")).status == 401
    result = await env.client.login(username=spelling, password=ADMIN_PASSWORD)
    assert result.status == 429, result.body
    assert result.session_id is None
    assert result.body["type"] == PROBS + "too-many-requests"


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_failures_under_other_spellings_count_for_the_account(env: Running, spelling: str) -> None:
    for _ in range(ALLOWED_FAILS):
        assert (await env.client.login(username=spelling, password="wrong")).status == 401
    result = await env.client.login(username=ADMIN, password=ADMIN_PASSWORD)
    assert result.status == 429, result.body
