"""Asking the session daemon to change sessions (the front door never writes to Redis)."""

from __future__ import annotations

from typing import Any

import zmq.asyncio

from contract.requests import SESSION, SessionCommand, SessionResult
from service_runtime.channel_client import DealerChannel, PeerLost
from service_runtime.jsonlog import REQUEST_ID

# Login waits on the Manager, so the daemon gets more time than a signer.
DAEMON_TIMEOUT = 35.0


class SessionDaemonUnavailable(Exception):
    pass


class SessionDaemonClient:
    def __init__(self, context: zmq.asyncio.Context, endpoint: str, key: bytes, max_age: float):
        self._channel = DealerChannel(context, endpoint, key, max_age, SESSION)

    async def call(self, op: str, args: dict[str, Any], timeout: float = DAEMON_TIMEOUT) -> SessionResult:
        try:
            # The id of the browser request being served (if any) goes along for the daemon's logs.
            request_id = REQUEST_ID.get() or ""
            item = await self._channel.request(lambda rid: SessionCommand(rid, op, args, request_id).to_item(), timeout)
        except (TimeoutError, PeerLost):
            raise SessionDaemonUnavailable() from None
        return SessionResult.from_item(item)

    def close(self) -> None:
        self._channel.close()
