"""The front door's signer pool over real ZeroMQ ipc sockets, with scripted signers.

Each signer here is a real ``RouterServer`` whose handler answers as a signer in a given condition
would (signing, refusing, silent), so the pool's choices are tested without supervisord.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import replace

import pytest
import zmq.asyncio

from contract.config import parse_config
from contract.deployment_rules import manager_deployment
from contract.etcd_layout import AgentRecord, AgentState
from contract.requests import SigningReply, SigningRequest
from contract.webapi import STORE_DOWN_FAULT, GroupsSnapshot
from frontdoor.balancing import rendezvous_rank
from frontdoor.signer_pool import POOL_WAKE, NoSignerAvailable, SignerPool, SigningRefused, StoreUnavailableAtSigner
from service_runtime.channel_server import RouterServer
from service_runtime.instruments import Instruments
from tests.support.polling import eventually

KEY = bytes(range(32))
MANAGER = manager_deployment(["http://127.0.0.1:8091"], "DEFAULT")
REQUEST = SigningRequest(0, "s" * 32, "GET", "/auth", "127.0.0.1:8091", "application/json", "v8.20240315")


def signing(env):
    return [SigningReply(item["rid"], headers={"Authorization": "ok"}).to_item() for item in env.items]


def refusing(reason):
    return lambda env: [SigningReply(item["rid"], error=reason).to_item() for item in env.items]


@pytest.fixture
async def context():
    ctx = zmq.asyncio.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def pool_for(context, tmp_path):
    pools = []

    def make(pool_wait=2.0, request_timeout=0.3, max_attempts=3, identity=None) -> SignerPool:
        config = parse_config(
            {
                "signers": {"pool_wait": pool_wait, "request_timeout": request_timeout, "max_attempts": max_attempts},
                "runtime": {"state_dir": str(tmp_path / "state")},
            }
        )
        pool = SignerPool(config, context, KEY, instruments=Instruments(), identity=identity)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


class Signers:
    """Scripted signers on ipc endpoints, and the snapshot that lists them Up."""

    def __init__(self, context, tmp_path):
        self._context, self._dir = context, tmp_path
        self.servers: dict[str, RouterServer] = {}
        self._tasks: list[asyncio.Task] = []

    def endpoint(self, agent_id):
        return f"ipc://{self._dir / agent_id}.sock"

    def start(self, agent_id, handler):
        server = RouterServer(self._context, self.endpoint(agent_id), KEY, 10, handler, instruments=Instruments())
        server.bind()
        self.servers[agent_id] = server
        self._tasks.append(asyncio.create_task(server.serve()))

    def stop(self, agent_id):
        self.servers.pop(agent_id).close()

    def snapshot(self, *agent_ids) -> GroupsSnapshot:
        records = {
            a: AgentRecord(
                a, "DEFAULT", self.endpoint(a), "host", 1, "0.1", AgentState.UP, time.time(), serving=("manager",)
            )
            for a in agent_ids
        }
        return GroupsSnapshot(agents=records)

    def close(self):
        for task in self._tasks:
            task.cancel()
        for server in self.servers.values():
            server.close()


@pytest.fixture
async def signers(context, tmp_path):
    started = Signers(context, tmp_path)
    yield started
    started.close()


async def test_a_refusal_another_signer_may_not_give_is_retried_elsewhere(pool_for, signers):
    """A freshly restarted signer that has not applied its deployments yet must not cost a request."""
    signers.start("a", refusing("host_not_allowed"))
    signers.start("b", signing)
    pool = pool_for()
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    await eventually(lambda: all(pool._channels[a].connected for a in ("a", "b")), 5)
    results = await asyncio.gather(*(pool.sign(REQUEST, MANAGER) for _ in range(20)))
    assert all(headers == {"Authorization": "ok"} for headers in results)


async def test_a_refusal_every_signer_gives_is_reported(pool_for, signers):
    signers.start("a", refusing("host_not_allowed"))
    pool = pool_for(pool_wait=0.3)
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    with pytest.raises(SigningRefused):
        await pool.sign(REQUEST, MANAGER)


async def test_when_every_signer_failed_the_request_waits_pool_wait_for_another(pool_for, signers):
    """Excluded agents are excluded for this request only; it waits for a new one within pool_wait."""
    signers.start("a", refusing("deployment_not_served"))
    pool = pool_for(pool_wait=3.0)
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    pending = asyncio.ensure_future(pool.sign(REQUEST, MANAGER))
    await eventually(lambda: signers.servers["a"].handled >= 1, 2)  # refused by "a": now it waits
    assert not pending.done()
    signers.start("b", signing)
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    assert await asyncio.wait_for(pending, 3) == {"Authorization": "ok"}
    assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}  # the next request is not tainted


async def test_without_any_signer_the_answer_comes_after_pool_wait(pool_for):
    pool = pool_for(pool_wait=0.4)
    pool.update(GroupsSnapshot(), [MANAGER])
    started = time.monotonic()
    with pytest.raises(NoSignerAvailable):
        await pool.sign(REQUEST, MANAGER)
    assert 0.35 < time.monotonic() - started < 1.5


async def test_once_the_worker_drains_a_request_without_a_signer_gets_its_answer_at_once(pool_for, signers):
    """``kill -9`` of the launcher: the signers go down with the draining front door; a request waiting
    ``pool_wait`` for one was held to the drain's deadline and cut there.  A request that has a signer
    is still served."""
    signers.start("a", signing)
    pool = pool_for(pool_wait=5.0)
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    pool.update(GroupsSnapshot(), [MANAGER])  # the last signer gone
    waiting = asyncio.ensure_future(pool.sign(REQUEST, MANAGER))
    await asyncio.sleep(0.2)  # on purpose: it is waiting for a signer meanwhile
    assert not waiting.done()
    started = time.monotonic()
    pool.stop_waiting()
    with pytest.raises(NoSignerAvailable):
        await asyncio.wait_for(waiting, 1.0)
    with pytest.raises(NoSignerAvailable):
        await asyncio.wait_for(pool.sign(REQUEST, MANAGER), 1.0)  # a new one does not wait either
    assert time.monotonic() - started < 0.5
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}


async def test_readiness_counts_only_connected_signers_of_this_host(pool_for, signers):
    signers.start("here", signing)
    snapshot = signers.snapshot("here", "there", "gone")
    snapshot.agents["there"] = AgentRecord(
        "there",
        "DEFAULT",
        signers.endpoint("here"),
        "other-host",
        1,
        "0.1",
        AgentState.UP,
        time.time(),
        serving=("manager",),
    )
    pool = pool_for()
    pool.update(snapshot, [MANAGER])  # "gone" is listed Up but nothing listens at its socket
    await eventually(lambda: pool._channels["here"].connected, 5)
    assert pool.agents_serving("manager", on_host="host") == ["here"]
    assert "gone" not in pool.agents_serving("manager")


async def test_a_wait_for_a_serving_signer_ends_as_it_connects(pool_for, signers):
    # A starting front door listens once a signer is connected: woken by the connection, not by a
    # 50 ms poll (nor by the pool's 1 s wake-up), so the first signer's bind is not followed by a pause.
    pool = pool_for()
    pool.update(GroupsSnapshot(), [MANAGER])
    waiting = asyncio.ensure_future(pool.until_serving("manager", 10.0))
    assert not await pool.until_serving("manager", 0.05)
    signers.start("a", signing)
    pool.update(signers.snapshot("a"), [MANAGER])
    assert await asyncio.wait_for(waiting, 0.9)  # the pool's own wake-up comes only after 1 s
    assert pool.agents_serving("manager") == ["a"]


async def never_answering(env):
    await asyncio.Event().wait()


async def restarted_under_a_request(pool, signers) -> asyncio.Future:
    """A request in flight on signer "a" when its process dies; a new process at the same socket."""
    signers.start("a", never_answering)
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    pending = asyncio.ensure_future(pool.sign(REQUEST, MANAGER))
    await eventually(lambda: pool._channels["a"].outstanding == 1, 2)
    signers.stop("a")  # the process dies with the request: the channel sees its peer go
    await eventually(lambda: not pool._channels["a"].connected, 2)
    await asyncio.sleep(0.1)  # while nothing listens (a signer takes seconds to start)
    signers.start("a", signing)  # supervisord's new process, same agent id, same socket
    return pending


async def test_a_signer_back_at_the_same_socket_is_asked_again_by_a_request_it_failed(pool_for, signers):
    """kill -9 keeps the registration (the lease outlives the process) and so the channel: the
    restarted signer reconnects to it.  A request it failed by dying must not wait ``pool_wait`` out
    and get 503 while that signer signs again."""
    pending = await restarted_under_a_request(pool_for(pool_wait=3.0, request_timeout=2.0), signers)
    started = time.monotonic()
    assert await asyncio.wait_for(pending, 3) == {"Authorization": "ok"}
    assert time.monotonic() - started < 1.5


async def test_signers_that_went_away_do_not_use_up_a_requests_attempts(pool_for, signers):
    """``max_attempts`` bounds the time spent on signers that do not answer; one that went away
    (stopped, killed: the pool restarting) failed at once, and ``pool_wait`` bounds waiting for its
    return.  Counted as attempts, they made a request of a restarting pool fail early with a 503."""
    pending = await restarted_under_a_request(pool_for(pool_wait=3.0, request_timeout=2.0, max_attempts=1), signers)
    assert await asyncio.wait_for(pending, 3) == {"Authorization": "ok"}


async def test_requests_waiting_for_a_signer_leave_the_cpu_to_the_signers_starting(pool_for, signers):
    """While the pool restarts, every request of those seconds waits (pool_wait: 10 s, 1,000 requests
    at 100 req/s) on the same 2 vCPUs on which the signers start: waiting must cost next to nothing
    (looking every 50 ms cost ~0.18 s of CPU per second here), and a signer that comes is taken.
    Counted as looks at the pool, not CPU time, so a busy machine cannot make it fail."""
    pool = pool_for(pool_wait=5.0)
    pool.update(GroupsSnapshot(), [MANAGER])
    looks = 0
    candidates = pool._candidates

    def counted_candidates(deployment_name):
        nonlocal looks
        looks += 1
        return candidates(deployment_name)

    pool._candidates = counted_candidates
    waiting = [asyncio.ensure_future(pool.sign(REQUEST, MANAGER)) for _ in range(1000)]
    await asyncio.sleep(0.1)  # all of them waiting now
    looks_before, started = looks, time.monotonic()
    await asyncio.sleep(1.5)
    # Each waiter looks again when the pool changes or at most once per POOL_WAKE (1 s): about two
    # looks each in 1.5 s (polling every 50 ms made it 30). A loaded machine may stretch the 1.5 s.
    wakes = math.ceil((time.monotonic() - started) / POOL_WAKE) + 1
    assert looks - looks_before <= wakes * len(waiting)
    signers.start("a", signing)
    pool.update(signers.snapshot("a"), [MANAGER])
    assert all(headers == {"Authorization": "ok"} for headers in await asyncio.wait_for(asyncio.gather(*waiting), 10))


async def test_signers_down_for_the_session_store_make_a_fast_503_not_a_wait(pool_for, signers):
    """Redis lost: the signers report Down with the store fault; no signer could read the session,
    so the request is refused at once (503) instead of waiting pool_wait for one."""
    pool = pool_for(pool_wait=5.0)
    snapshot = signers.snapshot("a")
    snapshot.agents["a"] = replace(snapshot.agents["a"], state=AgentState.DOWN, fault=STORE_DOWN_FAULT)
    pool.update(snapshot, [MANAGER])
    started = time.monotonic()
    with pytest.raises(StoreUnavailableAtSigner):
        await pool.sign(REQUEST, MANAGER)
    assert time.monotonic() - started < 1.0


async def test_signers_down_for_another_reason_are_waited_for(pool_for, signers):
    pool = pool_for(pool_wait=0.5)
    snapshot = signers.snapshot("a")
    snapshot.agents["a"] = replace(snapshot.agents["a"], state=AgentState.DOWN)
    pool.update(snapshot, [MANAGER])
    started = time.monotonic()
    with pytest.raises(NoSignerAvailable):
        await pool.sign(REQUEST, MANAGER)
    assert time.monotonic() - started >= 0.45


async def test_one_front_doors_requests_go_to_one_signer_until_a_burst_spreads_them(pool_for, signers):
    """At low load every request goes to the same signer (one process woken, its messages fuller);
    rotating ties woke each signer for every other request.  A burst beyond what one signer takes at
    no cost in latency spreads over both."""
    for agent_id in ("a", "b"):
        signers.start(agent_id, signing)
    pool = pool_for()
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    await eventually(lambda: all(pool._channels[a].connected for a in ("a", "b")), 5)
    for _ in range(20):
        assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}
    handled = sorted(server.handled for server in signers.servers.values())
    assert handled == [0, 20]
    for concurrent in (4, 4, 4):  # a few at once: still one signer, one message each time
        await asyncio.gather(*(pool.sign(REQUEST, MANAGER) for _ in range(concurrent)))
    assert sorted(server.handled for server in signers.servers.values()) == [0, 32]
    burst = await asyncio.gather(*(pool.sign(REQUEST, MANAGER) for _ in range(200)))
    assert all(headers == {"Authorization": "ok"} for headers in burst)
    spread = sorted(server.handled for server in signers.servers.values())
    assert spread[0] >= 80 and sum(spread) == 232


def identity_preferring(agent_id: str, others: list[str]) -> str:
    """A front-door identity whose preferred agent is ``agent_id``."""
    return next(
        identity
        for identity in (f"host-{n}" for n in range(100))
        if all(rendezvous_rank(identity, agent_id) < rendezvous_rank(identity, other) for other in others)
    )


async def test_a_frozen_preferred_signer_costs_one_request_a_timeout_not_every_request(pool_for, signers):
    """Packing prefers one signer even with requests in flight; one that stopped answering (frozen,
    SIGSTOP) must not keep receiving them: after its first timeout it is asked last."""
    signers.start("a", never_answering)
    signers.start("b", signing)
    pool = pool_for(request_timeout=0.3, identity=identity_preferring("a", ["b"]))
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    await eventually(lambda: all(pool._channels[a].connected for a in ("a", "b")), 5)
    assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}  # "a" timed out, "b" answered
    started = time.monotonic()
    for _ in range(10):
        assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}
    assert time.monotonic() - started < 1.0  # none waited for "a" (0.3 s each)
    assert signers.servers["b"].handled == 11
    concurrent = await asyncio.gather(*(pool.sign(REQUEST, MANAGER) for _ in range(8)))
    assert all(headers == {"Authorization": "ok"} for headers in concurrent)
    assert pool._channels["a"].outstanding == 0  # nothing new was sent to the frozen one


async def test_the_callers_work_runs_once_while_the_first_signer_asked_works(pool_for, signers):
    """``meanwhile`` runs when the request is out to the first signer (here a frozen one), and not
    again for the signer that signs it after the timeout."""
    signers.start("a", never_answering)
    signers.start("b", signing)
    pool = pool_for(request_timeout=0.2, identity=identity_preferring("a", ["b"]))
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    await eventually(lambda: all(pool._channels[a].connected for a in ("a", "b")), 5)
    calls: list[tuple[int, int]] = []
    meanwhile = lambda: calls.append((pool._channels["a"].outstanding, pool._channels["b"].outstanding))  # noqa: E731
    assert await pool.sign(REQUEST, MANAGER, meanwhile) == {"Authorization": "ok"}
    assert calls == [(1, 0)]  # once, with the request out to "a"
    assert signers.servers["b"].handled == 1


async def test_the_callers_work_is_not_called_when_no_signer_was_asked(pool_for):
    pool = pool_for(pool_wait=0.1)
    calls: list[str] = []
    with pytest.raises(NoSignerAvailable):
        await pool.sign(REQUEST, MANAGER, lambda: calls.append("called"))
    assert calls == []


async def test_a_request_that_never_left_is_asked_again_of_the_same_signer(pool_for, signers):
    """A channel that has just connected may not take a message yet (its peer still greeting it):
    the request gets NotSent, and no reconnection follows to make that signer eligible again.  It
    is asked again after a short pause, not left out until pool_wait ends with a 503."""
    signers.start("a", signing)
    pool = pool_for(pool_wait=1.5)
    pool.update(signers.snapshot("a"), [MANAGER])
    await eventually(lambda: pool._channels["a"].connected, 5)
    link = pool._channels["a"]._link
    real_send, refused = link.send, []

    def send_once_refused(frames):
        if not refused:
            refused.append(frames)
            raise zmq.Again()  # what libzmq says while no connection takes messages (IMMEDIATE)
        real_send(frames)

    link.send = send_once_refused
    started = asyncio.get_running_loop().time()
    assert await pool.sign(REQUEST, MANAGER) == {"Authorization": "ok"}
    assert refused and asyncio.get_running_loop().time() - started < 1.0


async def test_the_packing_shortcut_chooses_as_least_outstanding_does(pool_for, signers):
    """Nearly every request takes the shortcut (the preferred agent idle); wherever it answers, its
    answer is the policy's over every candidate, whatever is connected, excluded, stalled or full."""
    pool = pool_for(identity="host-3")
    agents = ["a", "b", "c", "d"]
    pool.update(signers.snapshot(*agents), [MANAGER])
    shapes = random.Random(15)
    answered = 0
    try:
        for _ in range(3000):
            for agent_id in agents:
                channel = pool._channels[agent_id]
                channel.connected = shapes.random() < 0.8
                channel._pending = {rid: None for rid in range(shapes.choice([0, 1, 5, 15, 16, 17, 40]))}
            pool._stalled_until = {a: math.inf for a in agents if shapes.random() < 0.1}
            excluded = {a for a in agents if shapes.random() < 0.2}
            shortcut = pool._idle_preferred("manager", excluded)
            if shortcut is not None:
                answered += 1
                assert shortcut == pool._packing.choose(pool._candidates("manager"), excluded)
    finally:
        for channel in pool._channels.values():
            channel._pending = {}  # (stand-ins for futures: nothing to fail at close)
    assert answered > 500  # (the shapes do reach it)


async def test_each_signers_answers_are_observed_under_its_own_agent(pool_for, signers):
    """The signing duration's histogram, per agent: every answer counted once, in its agent's child."""
    served = {"a": 0, "b": 0}

    def counting(agent_id):
        def handler(env):
            served[agent_id] += len(env.items)
            return signing(env)

        return handler

    signers.start("a", counting("a"))
    signers.start("b", counting("b"))
    pool = pool_for()
    pool.update(signers.snapshot("a", "b"), [MANAGER])
    await eventually(lambda: all(pool._channels[a].connected for a in ("a", "b")), 5)
    for burst in (1, 40, 3):
        await asyncio.gather(*(pool.sign(REQUEST, MANAGER) for _ in range(burst)))
    registry = pool._instruments.registry
    for agent_id, count in served.items():
        labels = {"agent": agent_id}
        assert registry.get_sample_value("webui_host_sign_duration_seconds_count", labels) == (count or None)
        if count:
            assert (
                registry.get_sample_value("webui_host_sign_duration_seconds_bucket", labels | {"le": "+Inf"}) == count
            )
            assert registry.get_sample_value("webui_host_sign_duration_seconds_sum", labels) > 0
    assert sum(served.values()) == 44
