"""The session daemon's test harness: a client on the front door's side of the hop, and what the tests
read back from Redis.  (Fixtures: conftest.py.)"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import zmq
import zmq.asyncio
from aiohttp import web

from contract.config import parse_config
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE
from contract.messages import MessageOpener, MessageSealer
from contract.redis_layout import (
    SecretBox,
    login_history_key,
)
from contract.requests import SESSION
from contract.session_commands import (
    Forwarded,
    Login,
    SessionCommand,
    SessionRequest,
)
from contract.session_results import (
    ManagerRefused,
    SessionReply,
    SessionResult,
)
from service_runtime.keyfiles import load_secret_box, load_shared_key
from service_runtime.settings import Settings
from session_daemon.service import SessionDaemon
from tests.support.servers import RedisHandle

ADMIN, ADMIN_PASSWORD = "admin@lablup.com", "wJalrXUt"
ADMIN_ACCESS_KEY, ADMIN_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
USER, USER_PASSWORD = "user@lablup.com", "C8qnIo29"
MAX_AGE = 3600
BLOCK_TIME = 1200
ALLOWED_FAILS = 3
PROBS = "https://api.backend.ai/probs/"
WRONG_PASSWORD = ManagerRefused(
    401, PROBS + "auth-failed", "Credential/signature mismatch.", "User credential mismatch."
)


# ---- Manager stand-in ----


@dataclass
class FakeManager:
    url: str
    app: web.Application
    seen_headers: list[dict[str, str]]


def daemon_settings(redis_handle: RedisHandle, endpoints: list[str], ipc_dir: Path) -> Settings:
    config = parse_config(
        {
            "api": {"endpoint": endpoints, "connect_timeout": 1.0},
            "session": {
                "redis": {"addr": redis_handle.addr},
                "max_age": MAX_AGE,
                "login_block_time": BLOCK_TIME,
                "login_allowed_fail_count": ALLOWED_FAILS,
            },
            "runtime": {"state_dir": str(ipc_dir / "state"), "secrets_dir": str(redis_handle.secrets_dir)},
            "zmq": {"ipc_dir": str(ipc_dir / "ipc")},
        }
    )
    return Settings(config, endpoints)


class DaemonClient:
    """The front door's side of the hop: a DEALER with the shared key."""

    def __init__(self, settings: Settings, endpoint: str):
        config = settings.config
        key = load_shared_key(config.secrets_dir / ZMQ_KEY_FILE)
        self._context = zmq.asyncio.Context()
        self.socket = self._context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.sealer = MessageSealer(key, config.zmq.max_message_age)
        self._opener = MessageOpener(key, config.zmq.max_message_age)
        self._rids = itertools.count(1)

    async def exchange(self, kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await self.socket.send_multipart(self.sealer.seal(kind, items))
        frames = await asyncio.wait_for(self.socket.recv_multipart(), 5.0)
        return self._opener.open(frames).items

    async def call_many(self, commands: list[SessionCommand]) -> list[SessionResult]:
        items = [SessionRequest(next(self._rids), command).to_wire() for command in commands]
        replies = [SessionReply.from_wire(item) for item in await self.exchange(SESSION, items)]
        assert [reply.rid for reply in replies] == [item["rid"] for item in items]
        return [reply.result for reply in replies]

    async def call(self, command: SessionCommand) -> SessionResult:
        return (await self.call_many([command]))[0]

    async def login(
        self, username: str = ADMIN, password: str = ADMIN_PASSWORD, extras: dict[str, Any] | None = None
    ) -> SessionResult:
        forwarded = Forwarded("203.0.113.7", "webui.example.com", "https")
        return await self.call(Login(username, password, extras or {}, forwarded))

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()


@dataclass
class Running:
    daemon: SessionDaemon
    client: DaemonClient
    redis: RedisHandle
    admin: redis.Redis
    settings: Settings

    def box(self) -> SecretBox:
        return load_secret_box(self.settings.config.secrets_dir / AT_REST_KEY_FILE)


def all_stored_bytes(admin: redis.Redis) -> list[bytes]:
    """Every key name and value in Redis, whatever its type."""
    stored: list[bytes] = []
    for key in admin.scan_iter(count=1000):
        stored.append(key)
        kind = admin.type(key)
        if kind == b"string":
            stored.append(admin.get(key))
        elif kind == b"set":
            stored.extend(admin.smembers(key))
        elif kind == b"zset":
            stored.extend(admin.zrange(key, 0, -1))
        else:
            raise AssertionError(f"unexpected key type {kind!r} for {key!r}")
    return stored


def history_of(admin: redis.Redis, username: str) -> dict[str, Any] | None:
    raw = admin.get(login_history_key(username))
    return json.loads(raw) if raw is not None else None
