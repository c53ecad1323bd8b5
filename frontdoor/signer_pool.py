"""The signer pool as the front door sees it: every agent that serves a deployment, one channel each.

A request for a deployment goes to an agent that serves it (of that deployment's group: Up, or Out Of
Service only because another deployment is faulty), chosen by the deployment's balancing policy; if
that agent times out or disappears, the same request is asked of another such agent (signing is
idempotent), up to ``max_attempts``.  Never an agent of another group.
"""

from __future__ import annotations

import asyncio
import logging
import time

import zmq.asyncio

from contract import instruments
from contract.config import Config
from contract.requests import SIGN, SigningReply, SigningRequest
from contract.webapi import BalancingPolicy, Deployment, GroupsSnapshot
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
        self._serving: dict[str, set[str]] = {}  # deployment name -> agent ids
        self._policies = {BalancingPolicy.LEAST_OUTSTANDING: LeastOutstanding(), BalancingPolicy.ROUND_ROBIN: RoundRobin()}

    def update(self, snapshot: GroupsSnapshot, deployments: list[Deployment]) -> None:
        """Follow etcd: a channel for each agent serving some deployment, nothing for the rest."""
        wanted = {}
        self._serving = {}
        for deployment in deployments:
            for record in snapshot.serving_agents(deployment):
                wanted[record.agent_id] = record
                self._serving.setdefault(deployment.name, set()).add(record.agent_id)
        for agent_id in list(self._channels):
            if agent_id not in wanted or wanted[agent_id].endpoint != self._channels[agent_id].endpoint:
                self._channels.pop(agent_id).close()
        for agent_id, record in wanted.items():
            if agent_id not in self._channels:
                self._channels[agent_id] = DealerChannel(
                    self._context, record.endpoint, self._key, self._config.zmq.max_message_age, SIGN
                )

    def agents_serving(self, deployment_name: str) -> list[str]:
        return sorted(self._serving.get(deployment_name, ()))

    async def sign(self, request: SigningRequest, deployment: Deployment) -> dict[str, str]:
        # The channels that failed us; an agent that re-registers (a restart) gets a new channel and is eligible again.
        tried: dict[str, DealerChannel] = {}
        chooser = self._policies[deployment.policy]
        wait_until: float | None = None
        attempts = 0
        while attempts < self._config.signers.max_attempts:
            candidates = self._candidates(deployment.name)
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

    def _candidates(self, deployment_name: str) -> list[Candidate]:
        return [
            Candidate(agent_id, self._channels[agent_id].outstanding)
            for agent_id in self._serving.get(deployment_name, ())
            if agent_id in self._channels and self._channels[agent_id].connected
        ]

    def queue_depths(self) -> dict[str, int]:
        """Signing requests awaiting an answer, per agent (a gauge of the ops listener)."""
        return {agent_id: channel.outstanding for agent_id, channel in self._channels.items()}

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
