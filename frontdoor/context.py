"""The front door's shared parts, handed to every route module."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from contract.config import Config
from frontdoor.daemon_client import SessionDaemonClient
from frontdoor.sessions import SessionReader
from frontdoor.signer_pool import SignerPool
from frontdoor.upstream import client_address


@dataclass
class FrontDoor:
    config: Config
    manager_endpoints: list[str]
    sessions: SessionReader
    signers: SignerPool
    daemon: SessionDaemonClient
    http: aiohttp.ClientSession
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)

    def client_ip(self, request: web.Request) -> str:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return client_address(peer[0] if peer else None, request.headers.get("X-Forwarded-For"), self.trusted_proxies)

    def forwarding_facts(self, request: web.Request) -> dict[str, str]:
        return {
            "client_ip": self.client_ip(request),
            "forwarded_host": request.host,
            "forwarded_proto": request.scheme,
        }

    def set_session_cookie(self, request: web.Request, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(
            self.config.session.cookie_name,
            session_id,
            max_age=self.config.session.max_age,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.secure,
        )


def session_cookie_value(request: web.Request, config: Config) -> str | None:
    return request.cookies.get(config.session.cookie_name)
