"""The signer pool as the front door sees it: every agent that serves a deployment, one channel each.

A request for a deployment goes to an agent that serves it (of that deployment's group: Up, or Out Of
Service only because another deployment is faulty), chosen by the deployment's balancing policy; if
that agent times out or disappears, the same request is asked of another such agent (signing is
idempotent), up to ``max_attempts``.  Never an agent of another group.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import AbstractSet, Callable

import zmq.asyncio

from contract.config import Config
from contract.requests import SIGN, STORE_UNAVAILABLE, SigningReply, SigningRequest
from contract.webapi import BalancingPolicy, Deployment, GroupsSnapshot
from frontdoor.balancing import Candidate, LeastOutstanding, RoundRobin
from service_runtime.channel_client import DealerChannel, NotSent, PeerLost
from service_runtime.instruments import Instruments
from service_runtime.metric_values import observe_directly

log = logging.getLogger(__name__)
POOL_POLL = 0.05  # seconds: the shortest attempt at a signer
# While none is Up, a request sleeps until the pool changes (an agent listed, a channel connected):
# a thousand requests waiting out a pool restart must not take the CPU the starting signers need.
# This is only the longest sleep between looks, should a change go unnoticed.
POOL_WAKE = 1.0
# Refusals another agent of the group may not give (one that has not applied the current deployments yet).
RETRIED_REFUSALS = frozenset({"host_not_allowed", "deployment_not_served"})
_NO_AGENTS: frozenset[str] = frozenset()


class NoSignerAvailable(Exception):
    pass


class SessionRejected(Exception):
    """The signer knows no live session for this cookie (expired, revoked, unknown)."""


class StoreUnavailableAtSigner(Exception):
    """The signer could not read Redis (shared by every signer: no point asking another)."""


class SigningRefused(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class SignerPool:
    def __init__(
        self,
        config: Config,
        context: zmq.asyncio.Context,
        key: bytes,
        *,
        instruments: Instruments,
        identity: str | None = None,
    ):
        """``identity``: whose order of preference the agents are chosen in; by default the host's, so
        every front door of a host packs its requests onto the same signer."""
        self._config = config
        self._context = context
        self._key = key
        self._instruments = instruments
        self._sign_duration: dict[str, Callable[[float], None]] = {}  # per agent: its histogram child's observe
        self._channels: dict[str, DealerChannel] = {}
        self._serving: dict[str, set[str]] = {}  # deployment name -> agent ids
        self._preferred: dict[str, list[str]] = {}  # deployment name -> its agents, least_outstanding's order
        self._hosts: dict[str, str] = {}  # agent id -> the host it runs on
        self._store_down: set[str] = set()  # deployments whose signers are Down for the session store
        # Agents that let a request time out, until when they are asked last (the loop's clock).
        self._stalled_until: dict[str, float] = {}
        self._changed = asyncio.Event()  # replaced after each change: set once for its waiters
        self._waiting = True  # requests may wait for a signer (pool_wait); not once the worker drains
        self._packing = LeastOutstanding(socket.gethostname() if identity is None else identity)
        self._policies = {BalancingPolicy.LEAST_OUTSTANDING: self._packing, BalancingPolicy.ROUND_ROBIN: RoundRobin()}

    def update(self, snapshot: GroupsSnapshot, deployments: list[Deployment]) -> None:
        """Follow etcd: a channel for each agent serving some deployment, nothing for the rest."""
        wanted = {}
        self._serving = {}
        self._store_down = {d.name for d in deployments if snapshot.store_down_agents(d)}
        for deployment in deployments:
            for record in snapshot.serving_agents(deployment):
                wanted[record.agent_id] = record
                self._serving.setdefault(deployment.name, set()).add(record.agent_id)
        for agent_id in list(self._channels):
            if agent_id not in wanted or wanted[agent_id].endpoint != self._channels[agent_id].endpoint:
                self._channels.pop(agent_id).close()
        self._hosts = {agent_id: record.host for agent_id, record in wanted.items()}
        packing = self._packing
        self._preferred = {name: packing.preferred_order(agents) for name, agents in self._serving.items()}
        for agent_id, record in wanted.items():
            if agent_id not in self._channels:
                self._channels[agent_id] = DealerChannel(
                    self._context,
                    record.endpoint,
                    self._key,
                    self._config.zmq.max_message_age,
                    SIGN,
                    instruments=self._instruments,
                    on_connection=self._pool_changed,
                )
        self._pool_changed()

    def stop_waiting(self) -> None:
        """The worker drains: a request that finds no signer gets its 503 now instead of waiting
        ``pool_wait`` for one, since the drain may end before (``kill -9`` of the launcher takes the
        signers down with the front doors: requests held until the drain's deadline and then cut).
        Requests that have a signer are served as before."""
        self._waiting = False
        self._pool_changed()

    def _pool_changed(self) -> None:
        """Wake the requests waiting for a signer: they look at the pool again."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until_changed(self, timeout: float) -> None:
        changed = self._changed
        try:
            async with asyncio.timeout(min(timeout, POOL_WAKE)):
                await changed.wait()
        except TimeoutError:
            pass

    async def until_serving(self, deployment_name: str, timeout: float) -> bool:
        """Whether an agent serves the deployment, waiting up to ``timeout`` for one: woken by each
        change of the pool (a connection, an etcd update), not by a poll, so a front door starting
        next to its signers listens the moment the first one connects."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.agents_serving(deployment_name) and loop.time() < deadline:
            await self._until_changed(deadline - loop.time())
        return bool(self.agents_serving(deployment_name))

    def agents_serving(self, deployment_name: str, on_host: str | None = None) -> list[str]:
        """Agents serving a deployment now (connected), optionally only those of one host."""
        return sorted(
            agent_id
            for agent_id in self._serving.get(deployment_name, ())
            if self._channels[agent_id].connected and (on_host is None or self._hosts.get(agent_id) == on_host)
        )

    async def sign(
        self, request: SigningRequest, deployment: Deployment, meanwhile: Callable[[], None] | None = None
    ) -> dict[str, str]:
        """Headers from an agent serving ``deployment``; waits up to ``pool_wait`` for one in all.
        ``meanwhile`` (the caller's work that needs no signature) is called at most once, when the
        request leaves at once to the first agent asked (its channel idle); not if it was queued behind
        others, nor if no agent was asked."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._config.signers.pool_wait
        # Agents that failed this request, as (channel, connection) they failed on: an agent that
        # re-registers (a new channel) or whose process was replaced at the same socket (kill -9:
        # the channel reconnects) is eligible again.  Other requests are not affected.
        tried: dict[str, tuple[DealerChannel, int]] = {}
        chooser = self._policies[deployment.policy]
        refusal: str | None = None
        attempts = 0
        while attempts < self._config.signers.max_attempts:
            excluded = (
                {agent_id for agent_id, failed_on in tried.items() if self._connection(agent_id) == failed_on}
                if tried
                else _NO_AGENTS  # (the first attempt, nearly always)
            )
            agent_id = self._idle_preferred(deployment.name, excluded) if chooser is self._packing else None
            if agent_id is None:
                agent_id = chooser.choose(self._candidates(deployment.name), excluded)
            if agent_id is None:
                if not self._serving.get(deployment.name) and deployment.name in self._store_down:
                    raise StoreUnavailableAtSigner()  # no signer can read sessions: waiting won't help
                # None left (e.g. the whole pool restarting): wait a little for one rather than fail.
                if loop.time() >= give_up_at or not self._waiting:
                    break
                await self._until_changed(give_up_at - loop.time())
                continue
            channel = self._channels[agent_id]
            asked_on = (channel, channel.connections)  # before the wait: a reconnection may end it
            once, meanwhile = meanwhile, None
            try:
                reply = await self._ask(channel, agent_id, request, max(give_up_at - loop.time(), POOL_POLL), once)
            except NotSent:
                # It never left: the channel has no connection that takes messages yet (one that has
                # just connected is still greeting its peer).  Asked again after a short pause rather
                # than excluded: no reconnection may come to lift the exclusion before pool_wait ends.
                if loop.time() >= give_up_at:
                    break
                await asyncio.sleep(min(POOL_POLL, give_up_at - loop.time()))
                continue
            except PeerLost:
                # It went away (the pool restarting): no attempt used up, as that cost no time;
                # pool_wait bounds the wait for it or another.
                tried[agent_id] = asked_on
                if loop.time() >= give_up_at:
                    break
                continue
            attempts += 1
            if reply is None or reply.error in RETRIED_REFUSALS:
                tried[agent_id] = asked_on
                refusal = reply.error if reply is not None else refusal
                continue
            if reply.error == "no_session":
                raise SessionRejected()
            if reply.error == STORE_UNAVAILABLE:
                raise StoreUnavailableAtSigner()
            if reply.error is not None:
                raise SigningRefused(reply.error)
            return reply.headers
        if refusal is not None:
            raise SigningRefused(refusal)
        raise NoSignerAvailable()

    async def _ask(
        self,
        channel: DealerChannel,
        agent_id: str,
        request: SigningRequest,
        remaining: float,
        meanwhile: Callable[[], None] | None,
    ) -> SigningReply | None:
        """The agent's reply, or None when it did not answer in time; PeerLost when it went away."""
        started = time.perf_counter()
        try:
            timeout = min(self._config.signers.request_timeout, remaining)
            item = await channel.request(request.to_item, timeout, meanwhile)
        except (TimeoutError, PeerLost) as exc:
            log.warning("signer did not answer; trying another", extra={"event": "sign_retry", "agent_id": agent_id})
            if isinstance(exc, PeerLost):
                raise
            # Asked last until its registration would have lapsed had it frozen (then it leaves the
            # pool); after that one request finds out whether it answers again.
            self._stalled_until[agent_id] = asyncio.get_running_loop().time() + self._config.etcd.lease_ttl
            return None
        if self._stalled_until:
            self._stalled_until.pop(agent_id, None)
        observe = self._sign_duration.get(agent_id)
        if observe is None:  # an agent's first answer (agents: the cluster's, bounded as the metric's children)
            observe = self._sign_duration[agent_id] = observe_directly(self._instruments.sign_duration.labels(agent_id))
        observe(time.perf_counter() - started)
        return SigningReply.from_item(item)

    def _connection(self, agent_id: str) -> tuple[DealerChannel, int] | None:
        channel = self._channels.get(agent_id)
        return None if channel is None else (channel, channel.connections)

    def _idle_preferred(self, deployment_name: str, excluded: AbstractSet[str]) -> str | None:
        """``least_outstanding``'s choice when it is the first connected agent not excluded in the order
        of preference and has fewer than ``pack_below`` in flight (nearly always), without a candidate
        made per agent; None when it takes the policy's full comparison (a stalled agent, a full one)."""
        if self._stalled_until:
            return None
        channels = self._channels
        for agent_id in self._preferred.get(deployment_name, ()):
            channel = channels.get(agent_id)
            if channel is None or not channel.connected or agent_id in excluded:
                continue
            return agent_id if channel.outstanding < self._packing.pack_below else None
        return None

    def _candidates(self, deployment_name: str) -> list[Candidate]:
        stalled = self._stalled_agents() if self._stalled_until else _NO_AGENTS
        channels = self._channels
        candidates = []
        for agent_id in self._serving.get(deployment_name, ()):
            channel = channels.get(agent_id)
            if channel is not None and channel.connected:
                candidates.append(Candidate(agent_id, channel.outstanding, agent_id in stalled))
        return candidates

    def _stalled_agents(self) -> frozenset[str]:
        now = asyncio.get_running_loop().time()
        for agent_id, until in list(self._stalled_until.items()):
            if until <= now:
                del self._stalled_until[agent_id]
        return frozenset(self._stalled_until)

    def queue_depths(self) -> dict[str, int]:
        """Signing requests awaiting an answer, per agent (a gauge of the ops listener)."""
        return {agent_id: channel.outstanding for agent_id, channel in self._channels.items()}

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
