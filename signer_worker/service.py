"""Assembly of one signer worker: its keys, its cache, its socket and its etcd registration."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Awaitable, Callable

import zmq.asyncio

from contract.deployment_rules import manager_deployment
from contract.etcd_layout import AgentRecord, AgentState, section_key
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE, signer_endpoint
from contract.messages import Envelope
from contract.requests import SIGN, STORE_UNAVAILABLE, SigningReply, SigningRequest, rid_of, valid_request_id
from contract.webapi import MANAGER_DEPLOYMENT, STORE_DOWN_FAULT, GroupsSnapshot
from service_runtime.background import run_in_background
from service_runtime.channel_server import RouterServer
from service_runtime.event_wait import set_within
from service_runtime.instruments import Instruments
from service_runtime.invalidation import StoreUnavailable
from service_runtime.keyfiles import ensure_private_dir, load_secret_box, load_shared_key
from service_runtime.redis_client import redis_client
from service_runtime.reload import ReloadHook
from service_runtime.settings import Settings
from service_runtime.start_cleanup import StartResources
from service_runtime.tracing import NO_TRACING, NoTracing
from service_runtime.version import VERSION
from service_runtime.webapi_watch import GroupsWatcher
from signer_worker.deployments import SigningPlan, SyncOutcome, plan_sync, signing_refusal
from signer_worker.identity import IdentitySigner
from signer_worker.key_cache import SecretCache
from signer_worker.registration import AgentRegistration
from signer_worker.signing import Keypair, graphql_token

log = logging.getLogger(__name__)
UNPARSED = frozenset({"bad_request", "wrong_kind"})  # refusals of items that never passed validation
# Seconds between readiness reports when nothing changes; a change (bound, deployments applied) is
# reported at once, so a front door waiting for its first signer does not wait for the period.
READINESS_INTERVAL = 0.2
# How often a starting signer looks whether it can sign (deployments applied, invalidations live) to
# bind: the bind is on the path of a start's first answer, and a look costs two attribute reads.
READY_POLL = 0.01
# Messages whose spans' start is remembered until they are answered: far more than are ever in flight.
MAX_UNANSWERED = 10_000


class SignerService:
    def __init__(
        self,
        settings: Settings,
        agent_id: str,
        group: str,
        *,
        instruments: Instruments,
        stopping: asyncio.Event | None = None,
        tracing: NoTracing = NO_TRACING,
        on_reload: Callable[[ReloadHook], None] = lambda hook: None,
        resources: StartResources | None = None,
        on_start_failure: Callable[[BaseException], None] | None = None,
    ):
        """Every setting the signer uses is read at its use (or needs a restart), but the Redis lookup
        timeout, derived from ``signers.request_timeout``: its reload hook sets it.  ``resources``: where
        what holds sockets is registered, to be closed if the start fails; ``on_start_failure``: told when
        the bind, which comes after ``start`` returned, fails (the process must end, not sit unbound)."""
        config = settings.config
        resources = resources or StartResources()
        self._on_start_failure = on_start_failure
        self.config = config
        self.agent_id = agent_id
        self._signatures = instruments.signatures
        self._signed = instruments.signatures.labels(agent_id, "signed")  # (the count of nearly every item)
        self._tracing = tracing  # [otel]: a span per signing request that arrives with a trace context
        self._started: dict[str, int] = {}  # message id -> when its handling began (tracing on only)
        # Signers sign only for the upstreams of their group's deployments, whatever a front door asks.
        self._plan = SigningPlan()
        self._identity = IdentitySigner.from_secrets(config)
        self._manager = manager_deployment(settings.manager_endpoints, config.signers.group)
        self._sync: SyncOutcome | None = None
        self._bound = False  # the socket exists only once we can sign
        self._readiness_changed = asyncio.Event()
        self._stop = stopping or asyncio.Event()  # set by a signal (the skeleton) or an admin's Shutdown
        self._tasks: list[asyncio.Task] = []
        self.watcher = GroupsWatcher(config, self._apply_snapshot)
        self._redis = redis_client(config, "signer")
        resources.add("redis client", self._redis.aclose)
        # A Redis that does not answer is reported (store_unavailable) before the asking front door
        # gives up on this signer (request_timeout) and asks another, which could only wait the same.
        self.cache = SecretCache(
            self._redis,
            load_secret_box(config.secrets_dir / AT_REST_KEY_FILE),
            lookup_timeout=config.signers.request_timeout / 2,
        )
        on_reload(lambda fresh: self.cache.set_lookup_timeout(fresh.signers.request_timeout / 2))
        ensure_private_dir(config.ipc_dir)
        self._context = resources.zmq_context(zmq.asyncio.Context())
        self.endpoint = signer_endpoint(config, agent_id)
        self.server = RouterServer(
            self._context,
            self.endpoint,
            load_shared_key(config.secrets_dir / ZMQ_KEY_FILE),
            config.zmq.max_message_age,
            self.handle,
            instruments=instruments,
            answered=self.answered,
        )
        self.registration = AgentRegistration(
            config,
            AgentRecord(
                agent_id, group, self.endpoint, socket.gethostname(), os.getpid(), VERSION, AgentState.DOWN, time.time()
            ),
        )

    def handle(self, envelope: Envelope) -> list[dict] | Awaitable[list[dict]]:
        """Answer at once when every key is cached; otherwise read Redis first.  Counted once sent
        (``answered``)."""
        if self._tracing.enabled:  # the spans' start, for ``answered``
            if len(self._started) >= MAX_UNANSWERED:  # (a message whose handling failed is never answered)
                self._started.clear()
            self._started[envelope.message_id] = time.time_ns()
        if envelope.kind != SIGN:
            return [SigningReply(_rid(item), error="wrong_kind").to_item() for item in envelope.items]
        replies = []
        for item in envelope.items:
            reply = self._answer_from_cache(item)
            if reply is None:
                return self._answer_reading_redis(envelope.items)
            replies.append(reply)
        return replies

    async def _answer_reading_redis(self, items: list[dict]) -> list[dict]:
        return [await self._sign_one(item) for item in items]

    def answered(self, envelope: Envelope, replies: list[dict]) -> None:
        """After the replies left: count, log and trace them, off the requester's path."""
        started = self._started.pop(envelope.message_id, 0) if self._started else 0
        self._account(envelope.items, replies, started)

    def _account(self, items: list[dict], replies: list[dict], started: int = 0) -> list[dict]:
        """Count every answer; log refusals (and, at DEBUG, signatures) with the browser request's id;
        with tracing on, a span for each item that came with a (valid) trace context.

        The signed ones are counted with one ``inc`` a message on a child looked up once; only a
        refusal, DEBUG or tracing looks at each item on its own (a batch of signatures costs one call)."""
        if started or log.isEnabledFor(logging.DEBUG):
            for item, reply in zip(items, replies):
                self._account_one(item, reply, started)
            return replies
        signed = 0
        for item, reply in zip(items, replies):
            if "error" in reply:
                self._account_one(item, reply, 0)
            else:
                signed += 1
        if signed:
            self._signed.inc(signed)
        return replies

    def _account_one(self, item: dict, reply: dict, started: int) -> None:
        result = reply.get("error") or "signed"
        self._signatures.labels(self.agent_id, result).inc()
        if started and result not in UNPARSED:  # only items SigningRequest.from_item validated
            self._tracing.remote_span(
                "signer/sign",
                item,
                started,
                {
                    "rpc.system": "webui-host",
                    "rpc.service": "signer",
                    "rpc.method": "sign",
                    "webui_host.agent_id": self.agent_id,
                    "webui_host.sign.result": result,
                    "webui_host.deployment": item.get("deployment", MANAGER_DEPLOYMENT),
                    "webui_host.request_id": item.get("request_id", ""),
                },
                error=result != "signed",
            )
        if result != "signed" or log.isEnabledFor(logging.DEBUG):
            request_id = item.get("request_id")
            log.log(
                logging.DEBUG if result == "signed" else logging.INFO,
                "signing request answered",
                extra={
                    "event": "sign_request",
                    "status": "success" if result == "signed" else "failure",
                    "result": result,
                    "agent_id": self.agent_id,
                    "request_id": request_id if valid_request_id(request_id) else None,
                },
            )

    def _answer_from_cache(self, item: dict) -> dict | None:
        checked = self._check(item)
        if isinstance(checked, dict):
            return checked
        record = self.cache.cached(checked.session_id)
        return None if record is None else self._sign(checked, record)

    async def _sign_one(self, item: dict) -> dict:
        checked = self._check(item)
        if isinstance(checked, dict):
            return checked
        try:
            record = await self.cache.lookup(checked.session_id)
        except StoreUnavailable:  # an answer the pool turns into a fast 503, rather than its timeout
            return SigningReply(checked.rid, error=STORE_UNAVAILABLE).to_item()
        if record is None:
            return SigningReply(checked.rid, error="no_session").to_item()
        return self._sign(checked, record)

    def _check(self, item: dict) -> SigningRequest | dict:
        """The request, or the refusal to send back."""
        try:
            request = SigningRequest.from_item(item)
        except ValueError:
            return SigningReply(_rid(item), error="bad_request").to_item()
        refusal = signing_refusal(self._plan, request)
        if refusal is not None:
            return SigningReply(request.rid, error=refusal).to_item()
        return request

    def _sign(self, request: SigningRequest, record: Keypair) -> dict:
        if request.deployment != MANAGER_DEPLOYMENT:
            if not record.user_id:  # sealed before assertions existed: the user logs in again
                return SigningReply(request.rid, error="no_session").to_item()
            headers = self._identity.headers(request.deployment, record, self.config.webapi)
            return SigningReply(request.rid, headers=headers).to_item()
        headers = record.signed_headers(
            request.method, request.target, request.host, request.content_type, request.api_version
        )
        if request.want_jwt and self._plan.manager_jwt:
            headers["X-BackendAI-Token"] = graphql_token(
                record.access_key, record.secret_key, record.role, self.config.api.jwt_expiration, time.time()
            )
        return SigningReply.signed_item(request.rid, headers)

    async def start(self) -> None:
        self._tasks = [
            run_in_background(self.cache.run(), "key cache"),
            run_in_background(self.registration.run(), "etcd registration"),
            run_in_background(self._report_readiness(), "readiness reports"),
            run_in_background(self.watcher.run(), "groups follower"),
            run_in_background(self._serve_when_ready(), "signing server"),
        ]

    async def _serve_when_ready(self) -> None:
        # No socket until we can sign: a front door still holding our previous run's channel would
        # otherwise reconnect at once and get refusals while deployments are not yet applied.
        if await self._until_ready():
            try:
                self._bind()
            except Exception as exc:  # (a path too long, a directory not ours): the start failed
                if self._on_start_failure is None:
                    raise
                self._on_start_failure(exc)
                return
            self._readiness_changed.set()
            log.info("signer ready", extra={"event": "signer_ready", "agent_id": self.agent_id})
            await self.server.serve()

    async def stop(self) -> None:
        log.info("signer stopping", extra={"event": "shutdown", "agent_id": self.agent_id})
        self._stop.set()
        await self.registration.withdraw()
        for task in self._tasks:
            task.cancel()
        # Closed before the wait: a requester whose item is in flight learns at once (PeerLost) and asks
        # another signer, even when a task here is slow to end (one waiting on a stalled Redis).
        self.server.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)  # bounded, like the front door's stop
        await self._redis.aclose()
        self._context.term()  # its one socket is closed (linger 0): returns at once

    def _ready(self) -> bool:
        return self._sync is not None and self.cache.listener.live

    async def _until_ready(self) -> bool:
        """Wait for the first deployment sync and live invalidations; False if asked to stop first."""
        while not self._ready():
            if self._stop.is_set():
                return False
            await asyncio.sleep(READY_POLL)
        return True

    def _bind(self) -> None:
        # The socket path is per agent; a leftover file from a crashed run is ours to replace.
        path = self.endpoint.removeprefix("ipc://")
        if os.path.exists(path):
            os.unlink(path)
        self.server.bind()
        os.chmod(path, 0o600)
        self._bound = True

    def _apply_snapshot(self, snapshot: GroupsSnapshot) -> None:
        """Deploy what etcd says our group serves; a Shutdown command addressed to us ends the process."""
        command = snapshot.commands.get(self.agent_id)
        if command and command.get("command") == "shutdown" and not self._stop.is_set():
            log.warning(
                "shutdown requested by an admin",
                extra={"event": "agent_shutdown", "agent_id": self.agent_id, "by": command.get("by")},
            )
            key = section_key(self.config, "commands", self.agent_id)
            asyncio.ensure_future(self.registration.delete_key(key)).add_done_callback(lambda _: self._stop.set())
            return
        outcome = plan_sync(snapshot, self.registration.record.group, self._manager, self._identity.ready)
        if self._sync is None or outcome.signature != self._sync.signature:
            # Out Of Service while the new set is applied (instant here: checking and indexing hosts).
            self.registration.report(AgentState.OUT_OF_SERVICE, None)
            log.info(
                "deployments applied",
                extra={
                    "event": "deployments_synced",
                    "agent_id": self.agent_id,
                    "state": outcome.state,
                    "fault": outcome.fault,
                },
            )
        self._plan = outcome.plan
        self._sync = outcome
        self._readiness_changed.set()

    async def _report_readiness(self) -> None:
        """Down while syncing (Redis, etcd not yet read), then the state of the last deployment sync."""
        while True:
            sync = self._sync
            if self._bound and sync is not None and not self.cache.listener.live:
                self.registration.report(AgentState.DOWN, STORE_DOWN_FAULT)
            elif not (self._bound and self._ready()):
                self.registration.report(AgentState.DOWN)
            else:
                self.registration.report(sync.state, sync.fault, sync.generation, sync.serving)
            self._readiness_changed.clear()
            await set_within(self._readiness_changed, READINESS_INTERVAL)


def _rid(item: dict) -> int:
    try:
        return rid_of(item)
    except ValueError:
        return 0
