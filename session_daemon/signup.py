"""The ``signup`` command: Backend.AI's ``POST /auth/signup`` on behalf of an anonymous visitor.

The Manager answers a signup with the new account's first keypair, secret key included; that key
stays here (it is dropped, not stored: the user logs in to get a session) and the front door learns
only the access key and the Manager's status.  Refusals pass on the Manager's problem.
"""

from __future__ import annotations

import logging

from contract.session_commands import Signup
from contract.session_results import ManagerRefused, ManagerUnavailable, SessionResult, SignedUp
from session_daemon.manager_client import ManagerClient, ManagerError, ManagerUnreachable

log = logging.getLogger(__name__)


async def signup(manager: ManagerClient, command: Signup) -> SessionResult:
    """Anonymous; limited per address by the front door (no account exists yet to count against)."""
    payload = {**command.extras, "domain": manager.domain, "email": command.email, "password": command.password}
    reply = await manager.post_json("/auth/signup", payload, command.forwarded)
    if isinstance(reply, ManagerUnreachable):
        return ManagerUnavailable(reply.reason)
    if isinstance(reply, ManagerError):
        log.info(
            "signup refused",
            extra={"event": "signup", "status": "failure", "user_id": command.email, "manager_status": reply.status},
        )
        return ManagerRefused(reply.status, reply.type, reply.title, reply.msg)
    access_key = reply.data.get("access_key")
    log.info("signed up", extra={"event": "signup", "status": "success", "user_id": command.email})
    return SignedUp(reply.status, access_key if isinstance(access_key, str) else None)
