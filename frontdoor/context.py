"""The front door's shared parts, handed to every route module."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from contract.config import Config
from contract.deployment_rules import manager_deployment
from contract.redis_layout import SessionRecord, session_hash
from contract.session_commands import Forwarded
from contract.webapi import MANAGER_DEPLOYMENT, Caller, Deployment, GroupsSnapshot
from frontdoor.cookie_memo import CookieMemo, PerConnection
from frontdoor.daemon_client import SessionDaemonClient
from frontdoor.endpoint_pool import EndpointPool
from frontdoor.lean_client import LeanClient
from frontdoor.sessions import SessionReader
from frontdoor.signer_pool import SignerPool
from frontdoor.trusted_proxies import TrustedProxies
from frontdoor.upstream import client_address
from service_runtime.instruments import Instruments
from service_runtime.tracing import NO_TRACING, NoTracing
from service_runtime.webapi_watch import GroupsWatcher

SESSION = web.RequestKey("session", object)  # SessionRecord | None, once looked up
UNREAD = object()  # ``known_session``: only a read can tell


@dataclass
class FrontDoor:
    config: Config
    manager_endpoints: list[str]
    sessions: SessionReader
    signers: SignerPool
    daemon: SessionDaemonClient
    http: aiohttp.ClientSession
    probe_http: aiohttp.ClientSession  # the health probes' own pool (endpoint_probe.probe_client)
    instruments: Instruments  # this worker's metrics (one object per process, made by its assembly)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    groups: GroupsSnapshot = field(default_factory=GroupsSnapshot)  # replaced on every etcd change
    groups_watcher: GroupsWatcher | None = None
    endpoint_pools: dict[str, EndpointPool] = field(default_factory=dict)  # per deployment name
    tracing: NoTracing = NO_TRACING  # [otel]: spans of proxied requests
    lean_http: LeanClient | None = None  # proxied requests without a body (frontdoor.lean_client)
    _manager_built: Deployment | None = field(default=None, init=False, repr=False)
    _manager_from: tuple = field(default=((), None, None, None), init=False, repr=False)  # what it was built from

    def deployment(self, name: str) -> Deployment | None:
        """A deployment as etcd defines it; the Manager's is built from the configuration otherwise."""
        found = self.groups.deployments.get(name)
        if found is None and name == MANAGER_DEPLOYMENT:
            return self._configured_manager()
        return found

    def _configured_manager(self) -> Deployment:
        """Built again only when what it is built from changed (a reload): every /func request asks."""
        api, group, built_from = self.config.api, self.config.signers.group, self._manager_from
        # Compared part by part (no tuple of the endpoints and of the source made per request); the
        # endpoints are kept as a copy, so a list changed in place is seen as a change.
        if (
            built_from[0] != self.manager_endpoints
            or built_from[1] != group
            or built_from[2] != api.connect_timeout
            or built_from[3] != api.response_timeout
            or self._manager_built is None
        ):
            built = manager_deployment(tuple(self.manager_endpoints), group)
            self._manager_built = dataclasses.replace(
                built, connect_timeout=api.connect_timeout, response_timeout=api.response_timeout
            )
            self._manager_from = (list(self.manager_endpoints), group, api.connect_timeout, api.response_timeout)
        return self._manager_built

    def deployments_of(self, group: str) -> list[Deployment]:
        return [d for d in self.all_deployments() if d.group == group]

    def all_deployments(self) -> list[Deployment]:
        """Every deployment, the Manager's included when etcd does not redefine it."""
        found = dict(self.groups.deployments)
        found.setdefault(MANAGER_DEPLOYMENT, self.deployment(MANAGER_DEPLOYMENT))
        return sorted(found.values(), key=lambda d: d.name)

    def endpoint_pool(self, deployment: Deployment) -> EndpointPool:
        """The health of the deployment's upstreams, kept while its list of upstreams stays the same."""
        api = self.config.api
        pool = self.endpoint_pools.get(deployment.name)
        if pool is None or pool.urls != deployment.upstreams:
            pool = self.endpoint_pools[deployment.name] = EndpointPool(deployment.upstreams)
        pool.configure(api.endpoint_policy, api.unhealthy_after)  # reloadable: read at use
        return pool

    def follow_groups(self, snapshot: GroupsSnapshot) -> None:
        self.groups = snapshot
        self.signers.update(snapshot, self.all_deployments())

    async def session(self, request: web.Request) -> SessionRecord | None:
        """The request's live session, looked up once per request (guards and handlers share it)."""
        record = self.known_session(request)
        if record is UNREAD:
            session_id, digest = _SESSION_COOKIES.value_with(request, self.config.session.cookie_name, session_hash)
            record = request[SESSION] = await self.sessions.load(session_id, digest)
        return record

    def known_session(self, request: web.Request) -> SessionRecord | None | object:
        """``session``'s answer when it needs no read (looked up before, or memory vouches for the
        record), without a coroutine; ``UNREAD`` when only ``session`` can tell."""
        record = request.get(SESSION, UNREAD)
        if record is UNREAD:
            session_id, digest = _SESSION_COOKIES.value_with(request, self.config.session.cookie_name, session_hash)
            record = self.sessions.cached_of(session_id, digest)  # (the look-up ``load`` starts with)
            if record is None:
                return UNREAD
            request[SESSION] = record
        return record

    def client_ip(self, request: web.Request) -> str:
        return client_address(_peer(request), request.headers.get("X-Forwarded-For"), self.trusted_proxies)

    def trusts_traceparent(self, request: web.Request) -> bool:
        """Whether the request's ``traceparent``/``tracestate`` may parent our span (``[otel] trust_traceparent``)."""
        policy = self.config.otel.trust_traceparent
        return policy == "always" or (policy == "trusted_proxies" and _peer(request) in self.trusted_proxies)

    def forwarded(self, request: web.Request) -> Forwarded:
        """What the Manager is told of the browser's request (X-Forwarded-* on the daemon's calls)."""
        return Forwarded(self.client_ip(request), request.host, request.scheme)

    def set_session_cookie(self, request: web.Request, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(
            self.config.session.cookie_name,
            session_id,
            max_age=self.config.session.max_age,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.browser_uses_https(request)
            if self.config.security.cookie_secure is None
            else self.config.security.cookie_secure,
        )

    def browser_uses_https(self, request: web.Request) -> bool:
        """TLS here, or ended at a proxy we trust that says so: the cookie must then be Secure."""
        if request.secure:
            return True
        if _peer(request) not in self.trusted_proxies:
            return False
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",", 1)[0].strip().lower() == "https"  # the first hop is the browser's


_PEERS = PerConnection()  # the peer's address of each connection: asked of the socket once, not per request
_NO_PEER = ("",)  # kept for a connection whose socket named no peer (a Unix socket's "")


def _peer(request: web.Request) -> str | None:
    transport = request.transport
    if not transport:
        return None
    kept = _PEERS.get(transport)
    if kept is None:
        peer = transport.get_extra_info("peername")  # a getpeername() system call each time
        kept = (peer[0],) if peer else _NO_PEER
        _PEERS.put(transport, kept)
    return kept[0] if kept is not _NO_PEER else None


# (user id, role) -> its caller while no endpoint admin is configured (the usual case): a frozen
# dataclass takes ~1.3 µs to make (a proxied request asks once), a look-up ~0.2.  Bounded; emptied when full.
_PLAIN_CALLERS: dict[tuple[str, str], Caller] = {}
MAX_PLAIN_CALLERS = 4096


def caller_of(record: SessionRecord, endpoint_admins: list[str]) -> Caller:
    """The Web API Groups caller a session stands for (``endpoint_admins`` read at every call: reloadable)."""
    if not endpoint_admins:
        key = (record.user_id, record.role)
        caller = _PLAIN_CALLERS.get(key)
        if caller is None:
            if len(_PLAIN_CALLERS) >= MAX_PLAIN_CALLERS:
                _PLAIN_CALLERS.clear()
            caller = _PLAIN_CALLERS[key] = Caller(record.user_id, record.role)
        return caller
    caller = Caller(record.user_id, record.role)
    return Caller(record.user_id, record.role, endpoint_admin=any(caller.matches(s) for s in endpoint_admins))


_SESSION_COOKIES = CookieMemo()  # per connection (weakly): this process's connections


def session_cookie_value(request: web.Request, config: Config) -> str | None:
    return _SESSION_COOKIES.value(request, config.session.cookie_name)
