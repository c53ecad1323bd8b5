"""The signer pool as the front door sees it: the Up agents of its group, one channel each.

A request goes to the agent chosen by the balancing policy; if that agent times out or disappears,
the same request is asked of another agent (signing is idempotent), up to ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import logging

import zmq.asyncio

from contract.config import Config
from contract.etcd_layout import AgentRecord, AgentState
from contract.requests import SIGN, SigningReply, SigningRequest
from frontdoor.balancing import Candidate, LeastOutstanding
from frontdoor.zmq_client import DealerChannel, PeerLost

log = logging.getLogger(__name__)


class NoSignerAvailable(Exception):
    pass


class SessionRejected(Exception):
    """The signer knows no live session for this cookie (expired, revoked, unknown)."""


class SigningRefused(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class SignerPool:
    def __init__(self, config: Config, context: zmq.asyncio.Context, key: bytes):
        self._config = config
        self._context = context
        self._key = key
        self._channels: dict[str, DealerChannel] = {}
        self._policy = LeastOutstanding()
        self.retries = 0

    def update_agents(self, records: dict[str, AgentRecord]) -> None:
        """Follow the directory: channels for our group's Up agents, nothing for the rest."""
        wanted = {
            agent_id: record
            for agent_id, record in records.items()
            if record.group == self._config.signers.group and record.state == AgentState.UP
        }
        for agent_id in list(self._channels):
            if agent_id not in wanted or wanted[agent_id].endpoint != self._channels[agent_id].endpoint:
                self._channels.pop(agent_id).close()
        for agent_id, record in wanted.items():
            if agent_id not in self._channels:
                self._channels[agent_id] = DealerChannel(
                    self._context, record.endpoint, self._key, self._config.zmq.max_message_age, SIGN
                )

    @property
    def agent_ids(self) -> list[str]:
        return sorted(self._channels)

    async def sign(self, request: SigningRequest) -> dict[str, str]:
        tried: set[str] = set()
        for _ in range(self._config.signers.max_attempts):
            agent_id = self._policy.choose(self._candidates(), tried)
            if agent_id is None:
                break
            channel = self._channels[agent_id]
            try:
                item = await channel.request(
                    lambda rid: {**request.to_item(), "rid": rid}, self._config.signers.request_timeout
                )
            except (asyncio.TimeoutError, PeerLost):
                tried.add(agent_id)
                self.retries += 1
                log.warning("signer did not answer; trying another", extra={"event": "sign_retry", "agent_id": agent_id})
                continue
            reply = SigningReply.from_item(item)
            if reply.error == "no_session":
                raise SessionRejected()
            if reply.error is not None:
                raise SigningRefused(reply.error)
            return reply.headers
        raise NoSignerAvailable()

    def _candidates(self) -> list[Candidate]:
        return [
            Candidate(agent_id, channel.outstanding)
            for agent_id, channel in self._channels.items()
            if channel.connected
        ]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
