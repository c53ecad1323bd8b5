"""The signer pool as the front door sees it: every Up agent of every defined group, one channel each.

A request for a deployment goes to an agent of that deployment's group, chosen by the deployment's
balancing policy; if that agent times out or disappears, the same request is asked of another agent of
the same group (signing is idempotent), up to ``max_attempts``.  Never an agent of another group.
"""

from __future__ import annotations

import asyncio
import logging
import time

import zmq.asyncio

from contract import instruments
from contract.config import Config
from contract.requests import SIGN, SigningReply, SigningRequest
from contract.webapi import BalancingPolicy, GroupsSnapshot
from frontdoor.balancing import Candidate, LeastOutstanding, RoundRobin
from frontdoor.zmq_client import DealerChannel, PeerLost

log = logging.getLogger(__name__)
POOL_POLL = 0.05  # seconds between looks for an Up signer while none is


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
        self._groups: dict[str, set[str]] = {}
        self._policies = {BalancingPolicy.LEAST_OUTSTANDING: LeastOutstanding(), BalancingPolicy.ROUND_ROBIN: RoundRobin()}
        self.retries = 0

    def update(self, snapshot: GroupsSnapshot) -> None:
        """Follow etcd: a channel for each Up agent of a defined group, nothing for the rest."""
        wanted = {
            record.agent_id: record
            for group in snapshot.all_groups()
            for record in snapshot.up_agents(group)
        }
        self._groups = {}
        for record in wanted.values():
            self._groups.setdefault(record.group, set()).add(record.agent_id)
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

    def agents_of(self, group: str) -> list[str]:
        return sorted(self._groups.get(group, ()))

    async def sign(self, request: SigningRequest, group: str,
                   policy: BalancingPolicy = BalancingPolicy.LEAST_OUTSTANDING) -> dict[str, str]:
        # The channels that failed us; an agent that re-registers (a restart) gets a new channel and is eligible again.
        tried: dict[str, DealerChannel] = {}
        chooser = self._policies[policy]
        wait_until: float | None = None
        attempts = 0
        while attempts < self._config.signers.max_attempts:
            candidates = self._candidates(group)
            if not candidates:
                # None Up (e.g. the whole pool restarting): wait a little for one rather than fail.
                wait_until = wait_until or asyncio.get_running_loop().time() + self._config.signers.pool_wait
                if asyncio.get_running_loop().time() >= wait_until:
                    break
                await asyncio.sleep(POOL_POLL)
                continue
            excluded = {agent_id for agent_id, channel in tried.items() if self._channels.get(agent_id) is channel}
            agent_id = chooser.choose(candidates, excluded)
            if agent_id is None:
                break
            attempts += 1
            channel = self._channels[agent_id]
            started = time.perf_counter()
            try:
                item = await channel.request(
                    lambda rid: {**request.to_item(), "rid": rid}, self._config.signers.request_timeout
                )
            except (asyncio.TimeoutError, PeerLost):
                tried[agent_id] = channel
                self.retries += 1
                log.warning("signer did not answer; trying another", extra={"event": "sign_retry", "agent_id": agent_id})
                continue
            instruments.SIGN_DURATION.labels(agent_id).observe(time.perf_counter() - started)
            reply = SigningReply.from_item(item)
            if reply.error == "no_session":
                raise SessionRejected()
            if reply.error is not None:
                raise SigningRefused(reply.error)
            return reply.headers
        raise NoSignerAvailable()

    def _candidates(self, group: str) -> list[Candidate]:
        return [
            Candidate(agent_id, self._channels[agent_id].outstanding)
            for agent_id in self._groups.get(group, ())
            if agent_id in self._channels and self._channels[agent_id].connected
        ]

    def queue_depths(self) -> dict[str, int]:
        """Signing requests awaiting an answer, per agent (a gauge of the ops listener)."""
        return {agent_id: channel.outstanding for agent_id, channel in self._channels.items()}

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
