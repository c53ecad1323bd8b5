"""The ``signup`` operation: Backend.AI's ``POST /auth/signup`` on behalf of an anonymous visitor.

The Manager answers a signup with the new account's first keypair, secret key included; that key
stays here (it is dropped, not stored: the user logs in to get a session) and the front door gets
``{"access_key": ...}`` with the Manager's status.  Refusals pass on the Manager's problem.
"""

from __future__ import annotations

import logging
from typing import Any

from contract.requests import SessionResult
from session_daemon.manager_client import ManagerClient, ManagerError, ManagerUnreachable

log = logging.getLogger(__name__)


async def signup(
    manager: ManagerClient, rid: int, email: str, password: str, extras: dict[str, Any], forwarded
) -> SessionResult:
    payload = {**extras, "domain": manager.domain, "email": email, "password": password}
    reply = await manager.post_json("/auth/signup", payload, forwarded)
    if isinstance(reply, ManagerUnreachable):
        return SessionResult(rid, 502, {"type": "https://api.backend.ai/probs/bad-gateway", "title": reply.reason})
    if isinstance(reply, ManagerError):
        log.info(
            "signup refused",
            extra={"event": "signup", "status": "failure", "user_id": email, "manager_status": reply.status},
        )
        body = {"type": reply.type, "title": reply.title}
        if reply.msg:
            body["msg"] = reply.msg
        return SessionResult(rid, reply.status, body)
    access_key = reply.data.get("access_key")
    log.info("signed up", extra={"event": "signup", "status": "success", "user_id": email})
    return SessionResult(rid, reply.status, {"access_key": access_key if isinstance(access_key, str) else None})
