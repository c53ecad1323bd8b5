"""Assembly of the session daemon, the dispatch of its commands, and the ones that need no Manager.

Each item of a message is one typed command (``contract.session_commands``); the items are answered
concurrently and every one gets a typed result (``contract.session_results``) whatever happens to the
others: an undecodable item is an ``InvalidCommand``, Redis down a ``StoreUnavailable``.  The daemon
never builds an HTTP answer: the front door does (``frontdoor.session_answers``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable

import redis.asyncio as aioredis
import zmq.asyncio
from redis.exceptions import RedisError

from contract.config import Config
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE, session_daemon_endpoint
from contract.messages import Envelope
from contract.redis_layout import session_hash
from contract.requests import SESSION, rid_of
from contract.session_commands import (
    DecodeBody,
    Login,
    Logout,
    RevokeUser,
    SessionCommand,
    SessionRequest,
    Signup,
    TokenLogin,
    Touch,
    UpdatePassword,
)
from contract.session_results import (
    InternalError,
    InvalidCommand,
    LoggedOut,
    SessionReply,
    SessionResult,
    SessionUnknown,
    StoreUnavailable,
    Touched,
    UserRevoked,
)
from service_runtime.background import run_in_background
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import REQUEST_ID
from service_runtime.keyfiles import ensure_private_dir, load_secret_box, load_shared_key
from service_runtime.redis_client import redis_client
from service_runtime.reload import ReloadHook
from service_runtime.settings import Settings
from service_runtime.start_cleanup import StartResources
from session_daemon.encoded_body import decode_command
from session_daemon.login_throttle import ThrottlePolicy
from session_daemon.logins import Logins
from session_daemon.manager_client import ManagerClient
from session_daemon.signup import signup
from session_daemon.store import SessionStore, short_hash

log = logging.getLogger(__name__)

ACTIVE_SESSIONS_INTERVAL = 5.0


class SessionDaemon:
    def __init__(
        self,
        settings: Settings,
        *,
        instruments: Instruments,
        redis: aioredis.Redis | None = None,
        on_reload: Callable[[ReloadHook], None] = lambda hook: None,
        resources: StartResources | None = None,
    ):
        """``resources``: where what holds sockets is registered, to be closed if the start fails."""
        config = settings.config
        self.config = config
        self.instruments = instruments
        resources = resources or StartResources()
        self._redis = redis or redis_client(config, "sessiond")
        resources.add("redis client", self._redis.aclose)
        box = load_secret_box(config.secrets_dir / AT_REST_KEY_FILE)
        self.store = SessionStore(self._redis, box, config.session.max_age, instruments=instruments)
        self.manager = ManagerClient(settings.manager_endpoints, config.api)
        self.logins = Logins(self.store, self.manager, ThrottlePolicy.from_config(config.session), instruments)
        ensure_private_dir(config.ipc_dir)
        self._context = resources.zmq_context(zmq.asyncio.Context())
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
        self.logins.policy = ThrottlePolicy.from_config(config.session)

    async def start(self) -> None:
        # One daemon per state directory: a leftover socket file is from a crashed run of ours.
        path = self.endpoint.removeprefix("ipc://")
        if os.path.exists(path):  # noqa: ASYNC240 - once at start, before serving
            os.unlink(path)
        self.server.bind()
        os.chmod(path, 0o600)
        await self.manager.start()
        self._serving = run_in_background(self.server.serve(), "session server")
        self._counting = run_in_background(self._count_sessions(), "active-sessions gauge")
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
            if _cancel_swallowed():
                raise asyncio.CancelledError()
            await asyncio.sleep(ACTIVE_SESSIONS_INTERVAL)

    async def _report_redis(self) -> None:
        try:
            await self._redis.ping()
            log.info("session daemon ready", extra={"event": "startup", "endpoint": self.endpoint})
        except (RedisError, OSError) as exc:
            # Not fatal: every command reconnects, and answers 503 until Redis is back.
            log.warning("Redis unreachable at start", extra={"event": "redis_unavailable", "error": str(exc)})

    # ---- dispatch ----

    async def handle(self, envelope: Envelope) -> list[dict[str, Any]]:
        if envelope.kind != SESSION:
            refusal = InvalidCommand(f"expected a {SESSION!r} message, got {envelope.kind!r}")
            return [SessionReply(_rid(item), refusal).to_wire() for item in envelope.items]
        return list(await asyncio.gather(*(self._answer(item) for item in envelope.items)))

    async def _answer(self, item: dict[str, Any]) -> dict[str, Any]:
        try:
            request = SessionRequest.from_wire(item)
        except ValueError as exc:  # contract/session_commands.py's messages name fields, never values
            return SessionReply(_rid(item), InvalidCommand(str(exc))).to_wire()
        REQUEST_ID.set(request.request_id or None)  # this item's own task: its log lines carry the id
        try:
            result = await self.execute(request.command)
        except (RedisError, OSError) as exc:
            log.warning("session store unavailable", extra={"event": "redis_unavailable", "error": str(exc)})
            result = StoreUnavailable()
        except Exception:
            log.exception("session command failed", extra={"event": "handler_error", "op": request.command.OP})
            result = InternalError()
        return SessionReply(request.rid, result).to_wire()

    async def execute(self, command: SessionCommand) -> SessionResult:
        match command:
            case Login():
                return await self.logins.login(command)
            case TokenLogin():
                return await self.logins.token_login(command)
            case UpdatePassword():
                return await self.logins.update_password(command)
            case Signup():
                return await signup(self.manager, command)
            case Logout():
                return await self._logout(command)
            case Touch():
                return await self._touch(command)
            case RevokeUser():
                return await self._revoke_user(command)
            case DecodeBody():
                return decode_command(command)  # AES of at most 256 KiB: well under a millisecond
        raise TypeError(f"not a session command: {type(command).__name__}")

    # ---- session commands (Redis only) ----

    async def _logout(self, command: Logout) -> SessionResult:
        digest = session_hash(command.session_id)
        user_id = await self.store.delete(digest)
        if user_id is not None:
            self.instruments.session_events.labels("session_revoke").inc()
            context = {"event": "session_revoke", "status": "success", "user_id": user_id}
            log.info("logged out", extra=context | {"session": short_hash(digest)})
        return LoggedOut()

    async def _touch(self, command: Touch) -> SessionResult:
        record = await self.store.touch(session_hash(command.session_id), time.time())
        return SessionUnknown() if record is None else Touched(record.expires_at)

    async def _revoke_user(self, command: RevokeUser) -> SessionResult:
        revoked = await self.store.revoke_user(command.user_id)
        self.instruments.session_events.labels("session_revoke").inc(revoked)
        context = {"event": "session_revoke", "status": "success", "user_id": command.user_id, "count": revoked}
        log.info("revoked every session of a user", extra=context)
        return UserRevoked(revoked)


def _cancel_swallowed() -> bool:
    """A stop cancelled this task during a Redis call, and the client library swallowed the cancellation
    (the task still counts the request): without this check the loop would go on, and the stop wait forever."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _rid(item: dict[str, Any]) -> int:
    """The request id to answer an undecodable item under (0 when it has none)."""
    try:
        return rid_of(item)
    except ValueError:
        return 0
