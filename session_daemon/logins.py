"""The commands that test a password or a token at the Manager: login, token login, update-password-no-auth.

Password tests sit behind the failed-login counter (docs/protocol.md §4.4); a successful login creates
the session.  Each answers with a typed result (``contract.session_results``), never an HTTP envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import AsyncIterator, Awaitable, Callable

from contract.redis_layout import session_hash
from contract.session_commands import Login, TokenLogin, UpdatePassword
from contract.session_results import (
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    PasswordChanged,
    SessionResult,
)
from service_runtime.instruments import Instruments
from session_daemon.login_throttle import (
    LoginOutcome,
    ThrottlePolicy,
    begin_attempt,
    outcome_of_manager_status,
    throttle_key,
)
from session_daemon.manager_client import ManagerClient, ManagerError, ManagerReply, ManagerUnreachable, keypair_of
from session_daemon.store import SessionStore, short_hash

TOKEN_LOGIN_PLACEHOLDERS = ("fake-email", "fake-pwd")  # what Backend.AI sends as user name and password
NO_KEYPAIR = "The Manager's answer has no keypair."
log = logging.getLogger(__name__)

# What a password-checking command answers, and what that means for the failed-login counter.
Outcome = tuple[SessionResult, LoginOutcome]


class Logins:
    def __init__(self, store: SessionStore, manager: ManagerClient, policy: ThrottlePolicy, instruments: Instruments):
        self.store = store
        self.manager = manager
        self._instruments = instruments
        self.policy = policy  # replaced on reload
        self._locks = KeyedLocks()

    async def login(self, command: Login) -> SessionResult:
        async def call() -> ManagerReply:
            return await self.manager.authorize(command.username, command.password, command.extras, command.forwarded)

        async def interpret(reply: ManagerReply) -> Outcome:
            return await self._login_outcome(command.username, reply)

        result = await self._throttled(command.username, call, interpret)
        self._instruments.logins.labels(login_result(result)).inc()
        return result

    async def token_login(self, command: TokenLogin) -> SessionResult:
        """The token travels in the extras; the user name and password are Backend.AI's placeholders.  No
        failed-login counter, as in Backend.AI (users click their launcher again and again); the
        per-address limit of the front door still holds."""
        reply = await self.manager.authorize(*TOKEN_LOGIN_PLACEHOLDERS, command.extras, command.forwarded)
        result, _outcome = await self._login_outcome(None, reply)
        self._instruments.logins.labels(login_result(result)).inc()
        return result

    async def update_password(self, command: UpdatePassword) -> SessionResult:
        async def call() -> ManagerReply:
            return await self.manager.update_password_no_auth(
                command.username, command.current_password, command.new_password, command.forwarded
            )

        async def interpret(reply: ManagerReply) -> Outcome:
            return password_outcome(reply)

        return await self._throttled(command.username, call, interpret)

    async def _login_outcome(self, username: str | None, reply: ManagerReply) -> Outcome:
        """``username`` is None for a token login: the session then belongs to ``token:<access key>``."""
        if isinstance(reply, ManagerUnreachable):
            return ManagerUnavailable(reply.reason), LoginOutcome.INCONCLUSIVE
        if isinstance(reply, ManagerError):
            return refusal_of(reply), outcome_of_manager_status(reply.status)
        keypair = keypair_of(reply)
        if keypair is None:  # e.g. a HEAD two-factor step, which this server does not offer
            return ManagerUnavailable(NO_KEYPAIR), LoginOutcome.INCONCLUSIVE
        username = username or f"token:{keypair.access_key}"
        created = await self.store.create(username, keypair, time.time())
        self._instruments.session_events.labels("session_create").inc()
        context = {"event": "session_create", "status": "success", "user_id": username}
        log.info("logged in", extra=context | {"session": short_hash(session_hash(created.session_id))})
        result = LoginSucceeded(created.session_id, keypair.access_key, keypair.role, keypair.status)
        return result, LoginOutcome.SUCCESS

    async def _throttled(
        self,
        username: str,
        call: Callable[[], Awaitable[ManagerReply]],
        interpret: Callable[[ManagerReply], Awaitable[Outcome]],
    ) -> SessionResult:
        """The §4.4 check around a Manager call that tests a password."""
        counter = throttle_key(username)  # every spelling of one account shares one counter
        # One attempt per account at a time, so parallel guesses cannot all read the same count.
        async with self._locks.hold(counter):
            policy = self.policy
            attempt = begin_attempt(await self.store.load_login_history(counter), time.time(), policy)
            if attempt.blocked:
                await self.store.save_login_history(counter, attempt.blocked_record(), policy.block_time)
                context = {"event": "login_blocked", "status": "failure", "user_id": username, "fails": attempt.fails}
                log.warning("login blocked", extra=context)
                return LoginBlocked(attempt.retry_after)
            result, outcome = await interpret(await call())
            history = attempt.record_after(outcome)
            if history is not None:
                await self.store.save_login_history(counter, history, policy.block_time)
            if outcome is LoginOutcome.AUTH_FAILURE:
                context = {
                    "event": "login_failed",
                    "status": "failure",
                    "user_id": username,
                    "fails": attempt.fails + 1,
                }
                log.info("login failed", extra=context)
            return result


def refusal_of(reply: ManagerError) -> ManagerRefused:
    return ManagerRefused(reply.status, reply.type, reply.title, reply.msg)


def password_outcome(reply: ManagerReply) -> Outcome:
    if isinstance(reply, ManagerUnreachable):
        return ManagerUnavailable(reply.reason), LoginOutcome.INCONCLUSIVE
    if isinstance(reply, ManagerError):
        return refusal_of(reply), outcome_of_manager_status(reply.status)
    changed_at = reply.data.get("password_changed_at")
    return PasswordChanged(changed_at if isinstance(changed_at, str) else None), LoginOutcome.SUCCESS


def login_result(result: SessionResult) -> str:
    """The ``result`` label of webui_host_logins_total for a login's answer."""
    match result:
        case LoginSucceeded():
            return "success"
        case LoginBlocked() | ManagerRefused(status=429):
            return "blocked"
        case ManagerRefused(status=401 | 403):
            return "failed"
        case ManagerRefused(status=status) if status < 500:
            return "rejected"
        case _:
            return "error"


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]
