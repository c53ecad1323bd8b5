"""The guard's rate limit: a busy key's proxied request is decided without a coroutine, and every other
case (a key or session not known yet, logins, no limit) still reads what it must before deciding."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from contract.config import parse_config
from contract.redis_layout import SessionRecord
from frontdoor.context import SESSION, UNREAD
from frontdoor.ratelimit import Verdict
from frontdoor.ratelimit_batched import BatchedLimiter
from frontdoor.security import RATE_LIMIT, Security
from frontdoor.trusted_proxies import TrustedProxies

NOW = time.time()
RECORD = SessionRecord("u@example.com", "AKIA", "user", "active", NOW, NOW, NOW + 3600)
MONITOR = SessionRecord("m@example.com", "AKMON", "monitor", "active", NOW, NOW, NOW + 3600)
LOGIN_VERDICT = Verdict(True, 30, 29, 60)
STATUS = web.RequestKey("test_answer_status", int)


class SharedCounts:
    """Redis's answer for keys nobody counted yet; the reads are kept."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, ...]] = []

    async def mget(self, *keys: str) -> list[None]:
        self.reads.append(keys)
        return [None] * len(keys)


class Logins:
    def __init__(self) -> None:
        self.checked: list[tuple[str, str, int]] = []

    async def check(self, kind: str, subject: str, limit: int) -> Verdict:
        self.checked.append((kind, subject, limit))
        return LOGIN_VERDICT


class Front:
    """``FrontDoor``'s session look-ups over a table of (cookie value -> record): ``known_session``
    answers from memory only for the values in ``remembered``, ``session`` for every value."""

    def __init__(self, config, records: dict[str, SessionRecord], remembered: set[str]):
        self.config, self.trusted_proxies = config, TrustedProxies([])
        self._records, self._remembered = records, remembered
        self.loads = 0

    def known_session(self, request: web.Request):
        record = request.get(SESSION, UNREAD)
        if record is UNREAD and request.cookies.get("webui_session") in self._remembered:
            record = request[SESSION] = self._records[request.cookies["webui_session"]]
        return record

    async def session(self, request: web.Request):
        record = self.known_session(request)
        if record is UNREAD:
            self.loads += 1
            record = request[SESSION] = self._records.get(request.cookies.get("webui_session", ""))
        return record

    def client_ip(self, request: web.Request) -> str:
        return "192.0.2.1"


def make_security(remembered: set[str], *, enabled: bool = True, limit: int = 5):
    config = parse_config(
        {"security": {"rate_limit": {"enabled": enabled, "requests": limit, "role_limits": {"monitor": 0}}}}
    )
    front = Front(config, {"s-user": RECORD, "s-monitor": MONITOR}, remembered)
    counts, logins = SharedCounts(), Logins()
    keys = BatchedLimiter(counts, config.security.rate_limit.window, config.security.rate_limit.sync_interval)
    return Security(front, logins=logins, keys=keys, password_checks=None), front, counts, logins


async def guarded(security: Security, method: str, path: str, cookie: str | None = None) -> web.Request:
    """The request after the guard let it through or answered it (its status in ``STATUS``)."""
    headers = {"Host": "localhost", **({"Cookie": f"webui_session={cookie}"} if cookie else {})}
    request = make_mocked_request(method, path, headers=headers)

    async def handler(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    answer = await security.guard(request, handler)
    request[STATUS] = answer.status
    return request


async def test_a_busy_keys_request_is_decided_without_the_reading_path(monkeypatch) -> None:
    security, front, counts, _ = make_security({"s-user"})
    first = await guarded(security, "GET", "/func/x", "s-user")  # the key's first request reads its counts
    assert counts.reads and first[RATE_LIMIT].remaining == 4

    async def no_reading(*_args):
        raise AssertionError("a busy key's request took the reading path")

    monkeypatch.setattr(security, "_rate_limit", no_reading)
    later = await guarded(security, "GET", "/func/x", "s-user")
    assert later[RATE_LIMIT] == Verdict(True, 5, 3, 60) and len(counts.reads) == 1 and front.loads == 0


async def test_a_session_memory_cannot_vouch_for_is_read_before_its_key_is_decided() -> None:
    security, front, counts, _ = make_security(set())
    for remaining in (4, 3):
        request = await guarded(security, "GET", "/func/x", "s-user")
        assert request[RATE_LIMIT].remaining == remaining
    assert front.loads == 2 and len(counts.reads) == 1


async def test_every_key_is_refused_past_its_limit_whichever_path_decided() -> None:
    security, _, _, _ = make_security({"s-user"}, limit=3)
    statuses = [(await guarded(security, "GET", "/func/x", "s-user"))[STATUS] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("method", "path", "cookie", "enabled"),
    [
        ("GET", "/func/x", None, True),  # no session: the proxy answers 401
        ("GET", "/func/x", "s-unknown", True),
        ("GET", "/func/x", "s-monitor", True),  # a role limit of 0: unlimited
        ("GET", "/func/x", "s-user", False),  # access-key limits off
        ("GET", "/server/login-check", "s-user", True),  # not proxied
    ],
)
async def test_requests_without_a_key_limit_carry_no_verdict(method, path, cookie, enabled) -> None:
    security, _, counts, logins = make_security({"s-user", "s-monitor"}, enabled=enabled)
    request = await guarded(security, method, path, cookie)
    assert request.get(RATE_LIMIT) is None and counts.reads == [] and logins.checked == []


@pytest.mark.parametrize("path", ["/server/login", "/api/auth/login", "/func/auth/authorize"])
async def test_logins_are_counted_exactly_per_client_whatever_the_session(path: str) -> None:
    security, _, counts, logins = make_security({"s-user"})
    request = await guarded(security, "POST", path, "s-user")
    if path == "/func/auth/authorize":  # refused outright before any limit (manager_auth)
        assert request[STATUS] == 403 and logins.checked == []
    else:
        assert request[RATE_LIMIT] is LOGIN_VERDICT and logins.checked == [("login", "192.0.2.1", 30)]
    assert counts.reads == []
