"""Assembly of one signer worker: its keys, its cache, its socket and its etcd registration."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from typing import Awaitable
from urllib.parse import urlsplit

import zmq.asyncio

from contract.bootstrap import Settings
from contract.etcd_layout import AgentRecord, AgentState
from contract.messages import Envelope, load_shared_key
from contract.redis_layout import SecretBox, SecretRecord
from contract.requests import SIGN, SigningReply, SigningRequest
from contract.router import RouterServer
from contract.runtime import AT_REST_KEY_FILE, ZMQ_KEY_FILE, ensure_private_dir, redis_client, signer_endpoint
from signer_worker.key_cache import SecretCache
from signer_worker.registration import AgentRegistration
from signer_worker.signing import graphql_token, signed_headers

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def allowed_hosts(endpoints: list[str]) -> frozenset[str]:
    """Signers sign only for the upstreams they serve, whatever a front door asks."""
    return frozenset(urlsplit(url).netloc for url in endpoints)


class SignerService:
    def __init__(self, settings: Settings, agent_id: str, group: str):
        config = settings.config
        self.config = config
        self.agent_id = agent_id
        self._hosts = allowed_hosts(settings.manager_endpoints)
        self._redis = redis_client(config, "signer")
        self.cache = SecretCache(self._redis, SecretBox.from_file(config.secrets_dir / AT_REST_KEY_FILE))
        ensure_private_dir(config.ipc_dir)
        self._context = zmq.asyncio.Context()
        self.endpoint = signer_endpoint(config, agent_id)
        self.server = RouterServer(
            self._context, self.endpoint, load_shared_key(config.secrets_dir / ZMQ_KEY_FILE),
            config.zmq.max_message_age, self.handle,
        )
        self.registration = AgentRegistration(
            config,
            AgentRecord(agent_id, group, self.endpoint, socket.gethostname(), os.getpid(), VERSION,
                        AgentState.DOWN, time.time()),
        )

    def handle(self, envelope: Envelope) -> list[dict] | Awaitable[list[dict]]:
        """Answer at once when every key is cached; otherwise read Redis first."""
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
        record = await self.cache.lookup(checked.session_id)
        if record is None:
            return SigningReply(checked.rid, error="no_session").to_item()
        return self._sign(checked, record)

    def _check(self, item: dict) -> SigningRequest | dict:
        """The request, or the refusal to send back."""
        try:
            request = SigningRequest.from_item(item)
        except ValueError:
            return SigningReply(_rid(item), error="bad_request").to_item()
        if request.host not in self._hosts:
            return SigningReply(request.rid, error="host_not_allowed").to_item()
        return request

    def _sign(self, request: SigningRequest, record: SecretRecord) -> dict:
        headers = signed_headers(
            record.access_key, record.secret_key, request.method, request.target, request.host,
            request.content_type, request.api_version,
        )
        if request.want_jwt:
            headers["X-BackendAI-Token"] = graphql_token(
                record.access_key, record.secret_key, record.role, self.config.api.jwt_expiration, time.time()
            )
        return SigningReply(request.rid, headers=headers).to_item()

    async def run(self) -> None:
        # The socket path is per agent; a leftover file from a crashed run is ours to replace.
        path = self.endpoint.removeprefix("ipc://")
        if os.path.exists(path):
            os.unlink(path)
        self.server.bind()
        os.chmod(path, 0o600)
        tasks = [
            asyncio.create_task(self.server.serve()),
            asyncio.create_task(self.cache.listener.run()),
            asyncio.create_task(self.registration.run()),
            asyncio.create_task(self._report_readiness()),
        ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("signer stopping", extra={"event": "shutdown", "agent_id": self.agent_id})
        await self.registration.withdraw()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.server.close()
        await self._redis.aclose()

    async def _report_readiness(self) -> None:
        """Down while syncing (Redis and its invalidations not yet live), Up once they are."""
        while True:
            self.registration.report(AgentState.UP if self.cache.listener.live else AgentState.DOWN)
            await asyncio.sleep(0.2)


def _rid(item: dict) -> int:
    rid = item.get("rid")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0 else 0
