"""``POST /api/admin/users/{user_id}/revoke``: end every session of one user on every front door.

For platform admins (role superadmin) and the endpoint admins named in ``[webapi] endpoint_admins``;
THREAT_MODEL.md relies on it to cut off a stolen or departed account at once.  The session daemon
deletes the sessions and their keypairs, and its invalidation reaches every front door and signer.
"""

from __future__ import annotations

import logging

from aiohttp import web

from contract.session_commands import RevokeUser
from contract.session_results import UserRevoked
from frontdoor import problems, session_answers
from frontdoor.context import FrontDoor, caller_of
from frontdoor.daemon_client import SessionDaemonUnavailable

log = logging.getLogger(__name__)
REVOKE_PATH = "/api/admin/users/{user_id}/revoke"
DAEMON_TIMEOUT = 5.0  # a revoke touches Redis only, never the Manager
MAX_USER_ID = 256


class AdminRoutes:
    def __init__(self, front: FrontDoor):
        self._front = front

    def register(self, app: web.Application) -> None:
        app.router.add_post(REVOKE_PATH, self.revoke_user)

    async def revoke_user(self, request: web.Request) -> web.Response:
        record = await self._front.session(request)
        if record is None:
            return problems.unauthorized()
        caller = caller_of(record, self._front.config.webapi.endpoint_admins)
        if not (caller.platform_admin or caller.endpoint_admin):
            return problems.problem(
                403,
                "generic-forbidden",
                "Forbidden operation.",
                details="Only platform and endpoint admins may revoke sessions.",
            )
        user_id = request.match_info["user_id"]
        if not user_id or len(user_id) > MAX_USER_ID:
            return problems.bad_request("user_id must be 1 to 256 characters.")
        try:
            result = await self._front.daemon.call(RevokeUser(user_id), timeout=DAEMON_TIMEOUT)
        except SessionDaemonUnavailable:
            return problems.session_service_down()
        answer = session_answers.revoked_user(user_id, result)
        if not isinstance(result, UserRevoked):
            return web.json_response(answer.body, status=answer.status)
        log.warning(
            "sessions revoked by an admin",
            extra={
                "event": "session_revoke",
                "status": "success",
                "user_id": user_id,
                "by": caller.user_id,
                "count": result.count,
            },
        )
        return web.json_response(answer.body, status=answer.status)
