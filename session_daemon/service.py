"""Assembly of the session daemon and the dispatch of its five operations.

Each item of a message is one ``SessionCommand``; the items are answered concurrently and every one
gets a ``SessionResult`` whatever happens to the others (bad arguments: 400, Redis down: 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
import zmq.asyncio
from redis.exceptions import RedisError

from contract.config import Config
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE, session_daemon_endpoint
from contract.messages import Envelope
from contract.redis_layout import session_hash
from contract.requests import MAX_FIELD_LENGTH, SESSION, SessionCommand, SessionResult
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import REQUEST_ID
from service_runtime.keyfiles import ensure_private_dir, load_secret_box, load_shared_key
from service_runtime.redis_client import redis_client
from service_runtime.reload import ReloadHook
from service_runtime.settings import Settings
from session_daemon.login_throttle import (
    LoginOutcome,
    ThrottlePolicy,
    begin_attempt,
    outcome_of_manager_status,
    throttle_key,
)
from session_daemon.manager_client import (
    Forwarded,
    ManagerClient,
    ManagerError,
    ManagerReply,
    ManagerUnreachable,
    keypair_of,
)
from session_daemon.signup import signup
from session_daemon.store import SessionStore, short_hash

TOKEN_LOGIN_PLACEHOLDERS = ("fake-email", "fake-pwd")  # what Backend.AI sends as user name and password
log = logging.getLogger(__name__)

PROBLEM_BASE = "https://api.backend.ai/probs/"
ACTIVE_SESSIONS_INTERVAL = 5.0
# Fail fast while Redis is down (the front door is waiting); redis-py's default retries for seconds.

# What a password-checking operation answers, and what that means for the failed-login counter.
Outcome = tuple[SessionResult, LoginOutcome]


def problem(slug: str, title: str, details: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title}
    if details is not None:
        body["details"] = details
    return body | extra


def bad_request(details: str) -> dict[str, Any]:
    return problem("invalid-api-params", "Missing or invalid API parameters.", details)


def bad_gateway(details: str) -> dict[str, Any]:
    return problem("bad-gateway", "The proxy target server is inaccessible.", details)


class SessionDaemon:
    def __init__(
        self,
        settings: Settings,
        *,
        instruments: Instruments,
        redis: aioredis.Redis | None = None,
        on_reload: Callable[[ReloadHook], None] = lambda hook: None,
    ):
        config = settings.config
        self.config = config
        self.instruments = instruments
        self._redis = redis or redis_client(config, "sessiond")
        box = load_secret_box(config.secrets_dir / AT_REST_KEY_FILE)
        self.store = SessionStore(self._redis, box, config.session.max_age, instruments=instruments)
        self.manager = ManagerClient(settings.manager_endpoints, config.api)
        self._policy = ThrottlePolicy.from_config(config.session)
        self._login_locks = KeyedLocks()
        ensure_private_dir(config.ipc_dir)
        self._context = zmq.asyncio.Context()
        self.endpoint = session_daemon_endpoint(config)
        self.server = RouterServer(
            self._context,
            self.endpoint,
            load_shared_key(config.secrets_dir / ZMQ_KEY_FILE),
            config.zmq.max_message_age,
            self.handle,
            instruments=instruments,
        )
        on_reload(self.reload)
        self._serving: asyncio.Task | None = None
        self._counting: asyncio.Task | None = None

    # ---- lifecycle ----

    def reload(self, config: Config) -> None:
        """What the daemon copied at start: the sessions' lifetime and the login throttle."""
        self.store.set_max_age(config.session.max_age)
        self._policy = ThrottlePolicy.from_config(config.session)

    async def start(self) -> None:
        # One daemon per state directory: a leftover socket file is from a crashed run of ours.
        path = self.endpoint.removeprefix("ipc://")
        if os.path.exists(path):  # noqa: ASYNC240 - once at start, before serving
            os.unlink(path)
        self.server.bind()
        os.chmod(path, 0o600)
        await self.manager.start()
        self._serving = asyncio.create_task(self.server.serve())
        self._counting = asyncio.create_task(self._count_sessions())
        await self._report_redis()

    async def stop(self) -> None:
        log.info("session daemon stopping", extra={"event": "shutdown"})
        for task in (self._serving, self._counting):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self.server.close()
        await self.manager.close()
        await self._redis.aclose()
        self._context.term()

    async def _count_sessions(self) -> None:
        """The active-sessions gauge, refreshed every few seconds (one ZREMRANGEBYSCORE + ZCARD)."""
        while True:
            try:
                self.instruments.active_sessions.set(await self.store.count_live(time.time()))
            except (RedisError, OSError):
                pass  # Redis trouble is reported by the commands themselves
            await asyncio.sleep(ACTIVE_SESSIONS_INTERVAL)

    async def _report_redis(self) -> None:
        try:
            await self._redis.ping()
            log.info("session daemon ready", extra={"event": "startup", "endpoint": self.endpoint})
        except (RedisError, OSError) as exc:
            # Not fatal: every command reconnects, and answers 503 until Redis is back.
            log.warning("Redis unreachable at start", extra={"event": "redis_unavailable", "error": str(exc)})

    # ---- dispatch ----

    async def handle(self, envelope: Envelope) -> list[dict]:
        if envelope.kind != SESSION:
            body = bad_request(f"expected a {SESSION!r} message, got {envelope.kind!r}")
            return [SessionResult(_rid(item), 400, body).to_item() for item in envelope.items]
        results = await asyncio.gather(*(self._answer(item) for item in envelope.items))
        return [result.to_item() for result in results]

    async def _answer(self, item: dict[str, Any]) -> SessionResult:
        rid = _rid(item)
        try:
            command = SessionCommand.from_item(item)
        except ValueError as exc:  # contract/requests.py's messages name fields, never values
            return SessionResult(rid, 400, bad_request(str(exc)))
        REQUEST_ID.set(command.request_id or None)  # this item's own task: its log lines carry the id
        try:
            return await self.execute(command)
        except InvalidArgument as exc:
            return SessionResult(rid, 400, bad_request(str(exc)))
        except (RedisError, OSError) as exc:
            log.warning("session store unavailable", extra={"event": "redis_unavailable", "error": str(exc)})
            return SessionResult(rid, 503, problem("service-unavailable", "Session store unavailable."))
        except Exception:
            log.exception("session operation failed", extra={"event": "handler_error", "op": command.op})
            return SessionResult(rid, 500, problem("internal-server-error", "Internal server error."))

    async def execute(self, command: SessionCommand) -> SessionResult:
        operation = {
            "login": self._login,
            "token_login": self._token_login,
            "logout": self._logout,
            "touch": self._touch,
            "revoke_user": self._revoke_user,
            "update_password_no_auth": self._update_password,
            "signup": self._signup,
        }[command.op]
        return await operation(command.rid, command.args)

    # ---- session operations ----

    async def _logout(self, rid: int, args: dict[str, Any]) -> SessionResult:
        digest = session_hash(text_arg(args, "session_id", limit=128))
        user_id = await self.store.delete(digest)
        if user_id is not None:
            self.instruments.session_events.labels("session_revoke").inc()
            log.info(
                "logged out",
                extra={
                    "event": "session_revoke",
                    "status": "success",
                    "user_id": user_id,
                    "session": short_hash(digest),
                },
            )
        return SessionResult(rid, 200, {})

    async def _touch(self, rid: int, args: dict[str, Any]) -> SessionResult:
        record = await self.store.touch(session_hash(text_arg(args, "session_id", limit=128)), time.time())
        if record is None:
            return SessionResult(rid, 401, problem("auth-failed", "Unauthorized access"))
        expires = datetime.fromtimestamp(record.expires_at, UTC).isoformat()
        return SessionResult(rid, 200, {"expires_at": record.expires_at, "expires": expires})

    async def _revoke_user(self, rid: int, args: dict[str, Any]) -> SessionResult:
        user_id = text_arg(args, "user_id")
        revoked = await self.store.revoke_user(user_id)
        self.instruments.session_events.labels("session_revoke").inc(revoked)
        context = {"event": "session_revoke", "status": "success", "user_id": user_id, "count": revoked}
        log.info("revoked every session of a user", extra=context)
        return SessionResult(rid, 200, {"revoked": revoked})

    async def _signup(self, rid: int, args: dict[str, Any]) -> SessionResult:
        """Anonymous; limited per address by the front door (no account exists yet to count against)."""
        email, password = text_arg(args, "email"), text_arg(args, "password", secret=True)
        return await signup(self.manager, rid, email, password, extras_arg(args), forwarded_args(args))

    # ---- password-checking operations (behind the failed-login counter) ----

    async def _login(self, rid: int, args: dict[str, Any]) -> SessionResult:
        username, password = text_arg(args, "username"), text_arg(args, "password", secret=True)
        extras, forwarded = extras_arg(args), forwarded_args(args)

        async def call() -> ManagerReply:
            return await self.manager.authorize(username, password, extras, forwarded)

        async def interpret(reply: ManagerReply) -> Outcome:
            return await self._login_outcome(rid, username, reply)

        result = await self._throttled(rid, username, call, interpret)
        self.instruments.logins.labels(login_result(result.status)).inc()
        return result

    async def _token_login(self, rid: int, args: dict[str, Any]) -> SessionResult:
        """Backend.AI's token login: the token travels in the extras, the Manager's authorize hook reads
        it, and the user name and password are Backend.AI's placeholders.  No failed-login counter, as
        in Backend.AI (users click their launcher again and again); the per-address limit still holds."""
        extras, forwarded = extras_arg(args), forwarded_args(args)
        reply = await self.manager.authorize(*TOKEN_LOGIN_PLACEHOLDERS, extras, forwarded)
        result, _outcome = await self._login_outcome(rid, None, reply)
        self.instruments.logins.labels(login_result(result.status)).inc()
        return result

    async def _login_outcome(self, rid: int, username: str | None, reply: ManagerReply) -> Outcome:
        """``username`` is None for a token login: the session then belongs to ``token:<access key>``."""
        if isinstance(reply, ManagerUnreachable):
            return SessionResult(rid, 502, bad_gateway(reply.reason)), LoginOutcome.INCONCLUSIVE
        if isinstance(reply, ManagerError):
            data = {"type": reply.type, "title": reply.title, "details": reply.msg or reply.title}
            body = {"authenticated": False, "data": data}
            return SessionResult(rid, reply.status, body), outcome_of_manager_status(reply.status)
        keypair = keypair_of(reply)
        if keypair is None:  # e.g. a HEAD two-factor step, which this server does not offer
            body = bad_gateway("The Manager's answer has no keypair.")
            return SessionResult(rid, 502, body), LoginOutcome.INCONCLUSIVE
        username = username or f"token:{keypair.access_key}"
        created = await self.store.create(username, keypair, time.time())
        digest = session_hash(created.session_id)
        self.instruments.session_events.labels("session_create").inc()
        log.info(
            "logged in",
            extra={"event": "session_create", "status": "success", "user_id": username, "session": short_hash(digest)},
        )
        data = {"access_key": keypair.access_key, "role": keypair.role, "status": keypair.status}
        result = SessionResult(rid, 200, {"authenticated": True, "data": data}, session_id=created.session_id)
        return result, LoginOutcome.SUCCESS

    async def _update_password(self, rid: int, args: dict[str, Any]) -> SessionResult:
        username = text_arg(args, "username")
        current, new = text_arg(args, "current_password", secret=True), text_arg(args, "new_password", secret=True)
        forwarded = forwarded_args(args)

        async def call() -> ManagerReply:
            return await self.manager.update_password_no_auth(username, current, new, forwarded)

        async def interpret(reply: ManagerReply) -> Outcome:
            return _password_outcome(rid, reply)

        return await self._throttled(rid, username, call, interpret)

    async def _throttled(
        self,
        rid: int,
        username: str,
        call: Callable[[], Awaitable[ManagerReply]],
        interpret: Callable[[ManagerReply], Awaitable[Outcome]],
    ) -> SessionResult:
        """The §4.4 check around a Manager call that tests a password."""
        counter = throttle_key(username)  # every spelling of one account shares one counter
        # One attempt per account at a time, so parallel guesses cannot all read the same count.
        async with self._login_locks.hold(counter):
            attempt = begin_attempt(await self.store.load_login_history(counter), time.time(), self._policy)
            if attempt.blocked:
                await self.store.save_login_history(counter, attempt.blocked_record(), self._policy.block_time)
                context = {"event": "login_blocked", "status": "failure", "user_id": username, "fails": attempt.fails}
                log.warning("login blocked", extra=context)
                details = f"Blocked for {attempt.retry_after} more seconds"
                body = problem(
                    "too-many-requests", "Too many failed login attempts", details, retry_after=attempt.retry_after
                )
                return SessionResult(rid, 429, body)
            result, outcome = await interpret(await call())
            history = attempt.record_after(outcome)
            if history is not None:
                await self.store.save_login_history(counter, history, self._policy.block_time)
            if outcome is LoginOutcome.AUTH_FAILURE:
                context = {
                    "event": "login_failed",
                    "status": "failure",
                    "user_id": username,
                    "fails": attempt.fails + 1,
                }
                log.info("login failed", extra=context)
            return result


def login_result(status: int) -> str:
    """The ``result`` label of a login answer."""
    if status == 200:
        return "success"
    if status == 429:
        return "blocked"
    if status in (401, 403):
        return "failed"
    return "error" if status >= 500 else "rejected"


def _password_outcome(rid: int, reply: ManagerReply) -> Outcome:
    """Protocol §4.8, HEAD shape: always 200 unless the Manager is unreachable."""
    if isinstance(reply, ManagerUnreachable):
        return SessionResult(rid, 502, bad_gateway(reply.reason)), LoginOutcome.INCONCLUSIVE
    if isinstance(reply, ManagerError):
        data = {"type": reply.type, "title": reply.title, "details": reply.msg or reply.title}
        body = {"data": data, "password_changed_at": None}
        return SessionResult(rid, 200, body), outcome_of_manager_status(reply.status)
    body = {"data": None, "password_changed_at": reply.data.get("password_changed_at")}
    return SessionResult(rid, 200, body), LoginOutcome.SUCCESS


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


# ---- arguments (contract/requests.py checked their names; these check their values) ----


class InvalidArgument(ValueError):
    """An argument the operation cannot use; the message names the field, never its value."""


def text_arg(args: dict[str, Any], name: str, *, limit: int = MAX_FIELD_LENGTH, secret: bool = False) -> str:
    """A required non-empty string; passwords may hold any character, other fields no control characters."""
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"You must provide the {name} field.")
    if len(value) > limit:
        raise InvalidArgument(f"The {name} field is longer than {limit} characters.")
    if not secret and _has_control(value):
        raise InvalidArgument(f"The {name} field contains control characters.")
    return value


def forwarded_args(args: dict[str, Any]) -> Forwarded:
    """Optional header values: absent or empty is fine, a line break (header injection) is not."""
    values = []
    for name in ("client_ip", "forwarded_host", "forwarded_proto"):
        value = args.get(name) or ""
        if not isinstance(value, str) or len(value) > 255 or _has_control(value):
            raise InvalidArgument(f"The {name} field must be a short single-line string.")
        values.append(value)
    return Forwarded(*values)


def extras_arg(args: dict[str, Any]) -> dict[str, Any]:
    """Other keys of the browser's login body (otp, force, ...); ManagerClient keeps them from overriding ours."""
    extras = args.get("extras") or {}
    if not isinstance(extras, dict):
        raise InvalidArgument("The extras field must be a JSON object.")
    return extras


def _has_control(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _rid(item: dict[str, Any]) -> int:
    rid = item.get("rid")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0 else 0
