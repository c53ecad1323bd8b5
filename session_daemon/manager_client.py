"""The two anonymous Manager calls the session daemon makes: authorize and update-password-no-auth.

Both are unsigned POSTs (docs/protocol.md §2.9).  Endpoints are tried in turn, starting from the last one that
answered, but only while nothing can have reached the Manager (connection refused, connect timeout):
once a request may have been received, trying elsewhere could apply it twice.

Each call has a connection of its own (service_runtime.http1, not aiohttp: ~9-13 MiB and ~0.2 s of imports
for four kinds of POST).  At login rates a handshake per call costs nothing next to the Manager's password
check, and a fresh connection never meets one the Manager closed while it sat idle: a POST cannot be resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract.config_sections import ApiConfig
from contract.session_commands import Forwarded
from service_runtime.http1 import (
    AnswerTooLarge,
    ConnectionLost,
    ConnectTimeout,
    MalformedAnswer,
    NotConnected,
    Target,
    client_tls,
    exchange_once,
    request_bytes,
    target_of,
)

log = logging.getLogger(__name__)

USER_AGENT = "webui-host/0.1"
TOTAL_TIMEOUT = 30.0
# An authorize or signup answer is well under a kilobyte: more than this is a broken or hostile Manager.
MAX_ANSWER_BYTES = 1 << 20
ANSWER_FAILURES = (TimeoutError, ConnectionLost, MalformedAnswer, AnswerTooLarge)


@dataclass(frozen=True, slots=True)
class ManagerOk:
    status: int
    data: dict[str, Any] = field(repr=False)  # may hold a secret key: keep it out of reprs and logs


@dataclass(frozen=True, slots=True)
class Keypair:
    """What a successful authorize yields."""

    access_key: str
    secret_key: str = field(repr=False)  # never in a log line or a traceback
    role: str
    status: str


@dataclass(frozen=True, slots=True)
class ManagerError:
    """A problem+json answer (or anything non-2xx), reduced to the fields we pass on."""

    status: int
    type: str
    title: str
    msg: str | None


@dataclass(frozen=True, slots=True)
class ManagerUnreachable:
    reason: str  # short and secret-free: it goes to the browser


ManagerReply = ManagerOk | ManagerError | ManagerUnreachable


def keypair_of(reply: ManagerOk) -> Keypair | None:
    """The keypair in an authorize answer, or None if any of its four fields is missing (e.g. a 2FA step)."""
    data = reply.data.get("data")
    if not isinstance(data, dict):
        return None
    fields = [data.get(name) for name in ("access_key", "secret_key", "role", "status")]
    if not all(isinstance(value, str) and value for value in fields):
        return None
    return Keypair(*fields)


class ManagerClient:
    def __init__(self, endpoints: list[str], api: ApiConfig, *, total_timeout: float = TOTAL_TIMEOUT):
        if not endpoints:
            raise ValueError("at least one Manager endpoint is needed")
        self._endpoints = [url.rstrip("/") for url in endpoints]
        self._api = api
        self._total_timeout = total_timeout
        self._preferred = 0  # index of the endpoint that answered last
        self._tls: ssl.SSLContext | None = None
        self._started = False

    async def start(self) -> None:
        # The context reads the trust store from disk: once, and before the first login waits on it.
        # [api] ssl_verify needs a restart (service_runtime.reload), so the context stays as built.
        for url in self._endpoints:
            with contextlib.suppress(ValueError):  # a bad URL is skipped at each call
                self._tls_for(target_of(url))
        self._started = True

    async def close(self) -> None:
        self._started = False  # nothing stays open between calls

    async def authorize(
        self, username: str, password: str, extras: dict[str, Any], forwarded: Forwarded
    ) -> ManagerReply:
        # Browser extras (otp, force, ...) go along, but may not replace the fields we decide.
        payload = {**extras, "type": "keypair", "domain": self._api.domain, "username": username, "password": password}
        return await self._post("/auth/authorize", payload, forwarded)

    async def update_password_no_auth(
        self, username: str, current_password: str, new_password: str, forwarded: Forwarded
    ) -> ManagerReply:
        payload = {
            "domain": self._api.domain,
            "username": username,
            "current_password": current_password,
            "new_password": new_password,
        }
        return await self._post("/auth/update-password-no-auth", payload, forwarded)

    @property
    def domain(self) -> str:
        return self._api.domain

    async def post_json(self, path: str, payload: dict[str, Any], forwarded: Forwarded) -> ManagerReply:
        """An anonymous POST of ``payload`` to the Manager's ``path`` (signup); the reply may hold a secret key."""
        return await self._post(path, payload, forwarded)

    async def _post(self, path: str, payload: dict[str, Any], forwarded: Forwarded) -> ManagerReply:
        if not self._started:
            raise RuntimeError("ManagerClient.start() was not awaited")
        reason = "no Manager endpoint"
        count = len(self._endpoints)
        for offset in range(count):
            index = (self._preferred + offset) % count
            endpoint = self._endpoints[index]
            try:
                reply = await self._post_once(endpoint + path, payload, forwarded)
            except NotConnected as exc:
                reason = _log_failure(endpoint, exc)
                continue  # nothing was sent: the next endpoint may do
            except ANSWER_FAILURES as exc:
                # The request may have arrived: do not repeat it on another endpoint.
                return ManagerUnreachable(_log_failure(endpoint, exc))
            self._preferred = index
            return reply
        return ManagerUnreachable(reason)

    async def _post_once(self, url: str, payload: dict[str, Any], forwarded: Forwarded) -> ManagerReply:
        try:
            target = target_of(url)
        except ValueError as exc:
            raise NotConnected(str(exc)) from None
        body = json.dumps(payload).encode()  # the bytes aiohttp's json= sent: ", " and ": ", ASCII only
        headers = [*self._headers(forwarded).items(), ("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate")]
        headers += [("Content-Length", str(len(body))), ("Content-Type", "application/json")]
        # ``api.connect_timeout`` is read at each call, so a reload applies.
        async with asyncio.timeout(self._total_timeout):
            answer = await exchange_once(
                target,
                request_bytes("POST", target.authority, target.path, headers, body),
                tls=self._tls_for(target),
                connect_timeout=self._api.connect_timeout,
                limit=MAX_ANSWER_BYTES,
            )
        return _reply_of(answer.status, answer.reason, answer.body)

    def _tls_for(self, target: Target) -> ssl.SSLContext | None:
        if target.tls and self._tls is None:
            self._tls = client_tls(self._api.ssl_verify)
        return self._tls if target.tls else None

    def _headers(self, forwarded: Forwarded) -> dict[str, str]:
        headers = {
            "Date": datetime.now(UTC).isoformat(),
            "X-BackendAI-Version": self._api.default_version,
            "X-BackendAI-Domain": self._api.domain,
            "User-Agent": USER_AGENT,
        }
        for name, value in (
            ("X-Forwarded-For", forwarded.client_ip),
            ("X-Forwarded-Host", forwarded.host),
            ("X-Forwarded-Proto", forwarded.proto),
        ):
            if value:
                headers[name] = value
        return headers


def _reply_of(status: int, reason: str, body: bytes) -> ManagerReply:
    doc = _json_object(body)
    if 200 <= status < 300:
        return ManagerOk(status, doc)
    return ManagerError(
        status=status,
        type=_text_or(doc.get("type"), "about:blank"),
        title=_text_or(doc.get("title"), reason or f"HTTP {status}"),
        msg=doc.get("msg") if isinstance(doc.get("msg"), str) else None,
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _text_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _log_failure(endpoint: str, exc: BaseException) -> str:
    log.warning(
        "Manager call failed",
        extra={"event": "manager_unreachable", "endpoint": endpoint, "error": f"{type(exc).__name__}: {exc}"},
    )
    return _describe_failure(exc)


def _describe_failure(exc: BaseException) -> str:
    """A short reason for the browser: no addresses, no request data (details go to our log)."""
    if isinstance(exc, (TimeoutError, ConnectTimeout)):
        return "The Manager did not answer in time."
    if isinstance(exc, NotConnected):
        return "Cannot connect to the Manager."
    if isinstance(exc, AnswerTooLarge):
        return "The Manager's answer is too large."
    return f"The connection to the Manager failed ({type(exc).__name__})."
