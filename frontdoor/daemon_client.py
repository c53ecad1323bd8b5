"""Asking the session daemon to change sessions (the front door never writes to Redis): typed commands in,
typed results out."""

from __future__ import annotations

import asyncio

import zmq.asyncio

from contract.requests import SESSION
from contract.session_commands import SessionCommand, SessionRequest
from contract.session_results import SessionReply, SessionResult
from service_runtime.channel_client import DealerChannel, NotSent, PeerLost
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import REQUEST_ID

# Login waits on the Manager, so the daemon gets more time than a signer (once it has the request).
DAEMON_TIMEOUT = 35.0
# While no daemon is connected (restarting, stopped), a request waits this long for one, then 503:
# supervisord restarts a crashed daemon within about a second, and a browser should not wait longer.
CONNECT_WAIT = 1.5
RETRY_POLL = 0.05


class SessionDaemonUnavailable(Exception):
    pass


class SessionDaemonClient:
    def __init__(
        self, context: zmq.asyncio.Context, endpoint: str, key: bytes, max_age: float, *, instruments: Instruments
    ):
        self._channel = DealerChannel(context, endpoint, key, max_age, SESSION, instruments=instruments)

    async def call(self, command: SessionCommand, timeout: float = DAEMON_TIMEOUT) -> SessionResult:
        """The daemon's typed result (``frontdoor.session_answers`` makes it an HTTP answer).  A reply
        that does not decode is a ValueError: the daemon and the front door come from one release."""
        # The id of the browser request being served (if any) goes along for the daemon's logs.
        request_id = REQUEST_ID.get() or ""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + CONNECT_WAIT
        while True:
            try:
                item = await self._channel.request(
                    lambda rid: SessionRequest(rid, command, request_id).to_wire(), timeout
                )
                return SessionReply.from_wire(item).result
            except NotSent:
                # It never reached a daemon, so asking again cannot do anything twice.
                if loop.time() >= give_up_at:
                    raise SessionDaemonUnavailable() from None
                await asyncio.sleep(RETRY_POLL)
            except (TimeoutError, PeerLost):
                raise SessionDaemonUnavailable() from None

    def close(self) -> None:
        self._channel.close()
