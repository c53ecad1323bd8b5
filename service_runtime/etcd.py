"""etcd connections: the client every process opens, and the cluster-wide settings read at start.

``EtcdClient`` speaks etcd's HTTP/JSON gateway (``/v3/...``, served on every member's client URL
since etcd 3.4) over asyncio streams, so no process loads gRPC (~20 MiB and ~0.1 s each, and its
threads).  It sends each call to the member it last reached; when that member cannot be connected to,
the call goes to the next endpoint of ``[etcd] addr``.  A read that fails after it was sent (reset,
or no answer within ``timeout``: a frozen member) is also retried on the next member; a write that
may have been applied is not, and raises ``EtcdUnavailable`` (its caller retries, as with any write).
TLS (``ca_file``, ``cert_file``/``key_file``) verifies the members' certificates; ``user``/``password``
get a token per member (etcd's simple tokens are known by the member that issued them only), and a
token etcd rejects (expired, or authentication re-enabled) is replaced once and the call re-sent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from contract.config import Config
from contract.etcd_layout import global_config_key, manager_endpoints_key
from service_runtime.etcd_http import TRANSPORT_ERRORS, Endpoint, NotSent, Pool, parse_endpoint, tls_context
from service_runtime.etcd_watch import PrefixWatch
from service_runtime.etcd_wire import (
    INVALID_TOKEN_CODE,
    Compare,
    EtcdRequestError,
    EtcdUnavailable,
    KeyValue,
    LeaseAnswer,
    RangeResult,
    Transactions,
    TxnOp,
    delete_request,
    error_of,
    http_request,
    parse_lease,
    parse_range,
    parse_txn,
    prefix_range_end,
    put_request,
    range_request,
    txn_request,
)

CALL_TIMEOUT = 5.0  # seconds a member has to answer one call (connect included)
UNAVAILABLE_CODE = 14  # gRPC UNAVAILABLE: this member cannot serve now (no leader): another may


class Lease:
    """A granted lease: ``refresh`` keeps it alive, ``revoke`` ends it (and deletes its keys)."""

    def __init__(self, client: EtcdClient, lease_id: int, ttl: int):
        self._client = client
        self.id = lease_id
        self.ttl = ttl

    async def refresh(self) -> LeaseAnswer:
        """One keep-alive; its TTL is 0 when the lease has expired."""
        return parse_lease(await self._client.call("/v3/lease/keepalive", {"ID": str(self.id)}))

    async def revoke(self) -> None:
        await self._client.call("/v3/lease/revoke", {"ID": str(self.id)}, retry_safe=False)


class EtcdClient:
    transactions = Transactions

    def __init__(self, config: Config, timeout: float = CALL_TIMEOUT, watch_idle: float | None = None):
        etcd = config.etcd
        embedded = config.embeds_etcd
        self.endpoints = [parse_endpoint(text) for text in config.etcd_endpoints]
        self.timeout = timeout
        self.watch_idle = watch_idle if watch_idle is not None else 2 * timeout  # see etcd_watch
        self._current = 0
        self._credentials = None if embedded or etcd.user is None else (etcd.user, etcd.password or "")
        self._tokens: dict[Endpoint, str] = {}
        tls = None
        if not embedded and etcd.tls:
            tls = tls_context(
                str(etcd.ca_file) if etcd.ca_file else None,
                str(etcd.cert_file) if etcd.cert_file else None,
                str(etcd.key_file) if etcd.key_file else None,
            )
        self.pool = Pool(tls, etcd.tls_server_name if tls is not None else None)

    # --- the calls the processes make -----------------------------------------------------

    async def get(self, key: bytes) -> KeyValue | None:
        found = await self.range(key)
        return found.kvs[0] if found.kvs else None

    async def get_prefix(self, prefix: bytes) -> RangeResult:
        return await self.range(prefix, prefix_range_end(prefix))

    async def range(self, key: bytes, range_end: bytes | None = None, **options: Any) -> RangeResult:
        return parse_range(await self.call("/v3/kv/range", range_request(key, range_end, **options)))

    async def put(self, key: bytes, value: bytes, lease: Lease | int | None = None) -> None:
        lease_id = lease.id if isinstance(lease, Lease) else int(lease or 0)
        await self.call("/v3/kv/put", put_request(key, value, lease_id), retry_safe=False)

    async def delete(self, key: bytes) -> bool:
        """Whether the key existed."""
        answer = await self.call("/v3/kv/deleterange", delete_request(key), retry_safe=False)
        return int(answer.get("deleted", 0)) > 0

    async def delete_prefix(self, prefix: bytes) -> int:
        answer = await self.call(
            "/v3/kv/deleterange", delete_request(prefix, prefix_range_end(prefix)), retry_safe=False
        )
        return int(answer.get("deleted", 0))

    async def transaction(
        self, compare: list[Compare], success: list[TxnOp], failure: list[TxnOp]
    ) -> tuple[bool, list[dict]]:
        """Whether every compare held (``success`` ran, else ``failure``), and the operations' answers."""
        answer = await self.call("/v3/kv/txn", txn_request(compare, success, failure), retry_safe=False)
        return parse_txn(answer)

    async def lease(self, ttl: int) -> Lease:
        granted = parse_lease(await self.call("/v3/lease/grant", {"TTL": str(ttl)}))
        return Lease(self, granted.ID, granted.TTL)

    async def watch_prefix(self, prefix: bytes, start_revision: int | None = None):
        """Events under ``prefix`` from ``start_revision`` (default: from now), across reconnects."""
        end = prefix_range_end(prefix)
        if start_revision is None:
            start_revision = (await self.range(prefix, end, limit=1, keys_only=True)).header.revision + 1
        return PrefixWatch(self, prefix, end, start_revision)

    async def close(self) -> None:
        self.pool.close()

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- one call, on the current member or the next ---------------------------------------

    @property
    def current(self) -> Endpoint:
        return self.endpoints[self._current]

    def fail_over(self, failed: Endpoint) -> None:
        """The next calls go to the member after ``failed`` (unless another call moved on already)."""
        if self.current == failed:
            self._current = (self._current + 1) % len(self.endpoints)

    async def call(self, path: str, body: dict, retry_safe: bool = True) -> dict:
        """POST ``body`` to the current member, moving to the next while members are unreachable."""
        problems = []
        for _ in self.endpoints:
            endpoint = self.current
            try:
                return await self.call_member(endpoint, path, body)
            except NotSent as exc:
                problems.append(str(exc))
            except TRANSPORT_ERRORS as exc:
                problems.append(f"{endpoint.authority}: {exc!r}")
                if not retry_safe:
                    self.fail_over(endpoint)
                    raise EtcdUnavailable(f"etcd at {endpoint.authority} did not answer ({exc!r})") from exc
            except EtcdRequestError as exc:
                if exc.code != UNAVAILABLE_CODE or not retry_safe:
                    raise
                problems.append(f"{endpoint.authority}: {exc}")
            self.fail_over(endpoint)
        raise EtcdUnavailable("no etcd member answered: " + "; ".join(problems))

    async def call_member(self, endpoint: Endpoint, path: str, body: dict) -> dict:
        """One call to one member, authenticated when configured (a rejected token is renewed once)."""
        for attempt in (1, 2):
            token = await self.token(endpoint)
            status, answer = await self._post(endpoint, path, body, token)
            if status == 200:
                return json.loads(answer) if answer else {}
            error = error_of(status, answer)
            if error.code != INVALID_TOKEN_CODE or self._credentials is None or attempt == 2:
                raise error
            self.forget_token(endpoint)
        raise AssertionError("unreachable")

    def forget_token(self, endpoint: Endpoint) -> None:
        self._tokens.pop(endpoint, None)

    async def token(self, endpoint: Endpoint) -> str | None:
        """Our token at ``endpoint`` (authenticating there first), None without credentials."""
        if self._credentials is None:
            return None
        if endpoint not in self._tokens:
            name, password = self._credentials
            status, answer = await self._post(
                endpoint, "/v3/auth/authenticate", {"name": name, "password": password}, None
            )
            if status != 200:
                raise error_of(status, answer)
            self._tokens[endpoint] = json.loads(answer)["token"]
        return self._tokens[endpoint]

    async def _post(self, endpoint: Endpoint, path: str, body: dict, token: str | None) -> tuple[int, bytes]:
        request = http_request(endpoint.authority, path, body, token)
        async with asyncio.timeout(self.timeout):
            connection, reused = await self.pool.acquire(endpoint)
            try:
                try:
                    head = await connection.exchange(request)
                except (asyncio.IncompleteReadError, ConnectionError) as lost:
                    if not reused:
                        raise
                    # An idle connection the member had closed: nothing was read, send on a new one.
                    self.pool.discard(connection)
                    try:
                        connection = await self.pool.connect(endpoint)
                    except NotSent:
                        raise lost from None  # the member died: the first send may have been received
                    head = await connection.exchange(request)
                answer = await connection.read_body(head)
            except BaseException:
                self.pool.discard(connection)
                raise
        if head.keeps_alive:
            self.pool.release(endpoint, connection)
        else:
            self.pool.discard(connection)
        return head.status, answer


def etcd_client(config: Config) -> EtcdClient:
    return EtcdClient(config)


async def read_global_settings(client: EtcdClient, config: Config) -> tuple[dict[str, Any], list[str]]:
    """Cluster-wide overrides and Manager endpoints published in etcd (empty when none)."""
    overrides: dict[str, Any] = {}
    endpoints: list[str] = []
    found = await client.get(global_config_key(config))
    if found is not None:
        overrides = json.loads(found.value)
    found = await client.get(manager_endpoints_key(config))
    if found is not None:
        endpoints = [str(url) for url in json.loads(found.value)]
    return overrides, endpoints
