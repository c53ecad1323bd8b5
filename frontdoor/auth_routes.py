"""``/server/*`` (Backend.AI's names) and ``/api/auth/*`` (the seed's names): login and friends.

These handlers parse and check what the browser sent, hand the work to the session daemon, and turn
its answer into the Backend.AI envelopes.  Passwords pass through to the daemon and nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from contract.login_fields import as_sentence, password_problem, username_problem
from contract.session_commands import Login, Logout, SessionCommand, TokenLogin, Touch, UpdatePassword
from contract.session_results import LoginSucceeded, ManagerRefused, SessionResult, Touched
from frontdoor import problems, session_answers
from frontdoor.context import FrontDoor, session_cookie_value
from frontdoor.daemon_client import SessionDaemonClient, SessionDaemonUnavailable
from frontdoor.encoded_body import (
    ENCODED_HEADER,
    UndecodableBody,
    browser_endpoint,
    decode_body,
    is_encoded,
    undecodable_body,
)
from frontdoor.json_body import InvalidJsonBody, NestedTooDeep, invalid_json, parse_object, read_body

log = logging.getLogger(__name__)

MAX_LOGIN_BODY = 64 * 1024
# Backend.AI's own paths: statuses and bodies as its webserver 23.09 (the Web UI bundle we host) sends them.
BACKEND_AI_PREFIX = "/server/"


async def read_json_body(request: web.Request, daemon: SessionDaemonClient) -> dict[str, Any]:
    """The JSON object the browser sent (decoded by the daemon if X-BackendAI-Encoded); InvalidJsonBody
    otherwise."""
    raw = await read_body(request, MAX_LOGIN_BODY)
    if is_encoded(request.headers.get(ENCODED_HEADER)):
        raw = await decode_body(daemon, raw, browser_endpoint(request))
    return parse_object(raw)


async def json_object_or_refusal(
    request: web.Request, daemon: SessionDaemonClient, *, malformed_is_empty: bool
) -> dict[str, Any] | web.Response:
    """The body login-like routes read, or the 400 that refuses it.  Backend.AI reads a body that is no
    JSON object as empty (the field checks then name what is missing): ``malformed_is_empty`` keeps
    that; a body nested deeper than any of ours is refused either way."""
    try:
        return await read_json_body(request, daemon)
    except UndecodableBody:
        return undecodable_body()
    except SessionDaemonUnavailable:
        return daemon_down("decode_body")
    except NestedTooDeep as exc:
        return invalid_json(exc)
    except InvalidJsonBody as exc:
        return {} if malformed_is_empty else invalid_json(exc)


def _missing_field(name: str) -> web.Response:
    return problems.bad_request(f"You must provide the {name} field.", slug="invalid-api-params")


def _invalid_credentials(username: str, password: str) -> web.Response | None:
    """A 400 naming what is wrong with the login fields, before anything is sent on."""
    problem = username_problem(username) or password_problem(password)
    if problem is None:
        return None
    return problems.bad_request("Invalid login fields.", slug="invalid-api-params", details=as_sentence(problem))


class AuthRoutes:
    def __init__(self, front: FrontDoor):
        self._front = front

    def register(self, app: web.Application) -> None:
        for prefix in ("/server", "/api/auth"):
            app.router.add_post(f"{prefix}/login", self.login)
            app.router.add_post(f"{prefix}/logout", self.logout)
        app.router.add_post("/server/token-login", self.token_login)
        app.router.add_post("/server/login-check", self.login_check)
        app.router.add_post("/server/extend-login-session", self.extend_login_session)
        app.router.add_post("/server/update-password-no-auth", self.update_password_no_auth)

    async def _anonymous_login_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """What both logins read first: no session yet, then the body (Backend.AI's tolerant reading)."""
        if await self._front.session(request) is not None:
            return problems.bad_request("You have already logged in.")
        return await json_object_or_refusal(request, self._front.daemon, malformed_is_empty=True)

    async def login(self, request: web.Request) -> web.Response:
        front = self._front
        body = await self._anonymous_login_body(request)
        if isinstance(body, web.Response):
            return body
        username, password = body.pop("username", None), body.pop("password", None)
        if not isinstance(username, str) or not username.strip():
            return _missing_field("username")
        if not isinstance(password, str) or not password:
            return _missing_field("password")
        invalid = _invalid_credentials(username.strip(), password)
        if invalid is not None:
            return invalid
        command = Login(username.strip(), password, body, front.forwarded(request))
        return self._login_reply(request, await self._ask_daemon(command))

    async def token_login(self, request: web.Request) -> web.Response:
        """Backend.AI's single sign-on: a token (``[api] auth_token_name``, from the body or a cookie)
        that the Manager's authorize hook turns into a keypair.  The token goes to the Manager in the
        authorize body only; the browser's cookies are not forwarded (Backend.AI forwards them all)."""
        front = self._front
        body = await self._anonymous_login_body(request)
        if isinstance(body, web.Response):
            return body
        name = front.config.api.auth_token_name
        token = body.get(name) or request.cookies.get(name)
        if not isinstance(token, str) or not token:
            return problems.bad_request("You must provide cookie-based authentication token", slug="invalid-api-params")
        command = TokenLogin({**body, name: token}, front.forwarded(request))
        return self._login_reply(request, await self._ask_daemon(command))

    def _login_reply(self, request: web.Request, result: SessionResult | web.Response) -> web.Response:
        if isinstance(result, web.Response):
            return result
        answer = session_answers.login(result)
        status = answer.status
        if request.path.startswith(BACKEND_AI_PREFIX) and isinstance(result, ManagerRefused):
            status = 200  # Backend.AI 23.09: a refused login is a 200 with authenticated false and the reason
        reply = problems.json_body_response(status, answer.body)
        if isinstance(result, LoginSucceeded):
            self._front.set_session_cookie(request, reply, result.session_id)
        return reply

    async def login_check(self, request: web.Request) -> web.Response:
        record = await self._front.session(request)
        data = None
        if record is not None:
            data = {"access_key": record.access_key, "role": record.role, "status": record.status}
        # session_id stays null: the id lives only in the HttpOnly cookie, never in JSON.
        return web.json_response({"authenticated": record is not None, "data": data, "session_id": None})

    async def logout(self, request: web.Request) -> web.Response:
        session_id = session_cookie_value(request, self._front.config)
        if session_id:
            result = await self._ask_daemon(Logout(session_id))
            if isinstance(result, web.Response):
                return result
        # Backend.AI 23.09 answers its logout with an empty 201; the seed's path keeps its 200.
        reply = web.Response(status=201) if request.path.startswith(BACKEND_AI_PREFIX) else web.Response(text="200: OK")
        reply.del_cookie(self._front.config.session.cookie_name, path="/")
        return reply

    async def extend_login_session(self, request: web.Request) -> web.Response:
        session_id = session_cookie_value(request, self._front.config)
        if await self._front.session(request) is None:
            return problems.unauthorized()
        result = await self._ask_daemon(Touch(session_id))
        if isinstance(result, web.Response):
            return result
        answer = session_answers.extended_session(result)
        reply = problems.json_body_response(answer.status, answer.body)
        if isinstance(result, Touched):
            self._front.set_session_cookie(request, reply, session_id)
        return reply

    async def update_password_no_auth(self, request: web.Request) -> web.Response:
        body = await json_object_or_refusal(request, self._front.daemon, malformed_is_empty=False)
        if isinstance(body, web.Response):
            return body
        fields: dict[str, str] = {}
        for name in ("username", "current_password", "new_password"):
            value = body.get(name)
            if not isinstance(value, str) or not value:
                return _missing_field(name)
            fields[name] = value
        username, current, new = fields["username"], fields["current_password"], fields["new_password"]
        invalid = _invalid_credentials(username, current) or _invalid_credentials(username, new)
        if invalid is not None:
            return invalid
        result = await self._ask_daemon(UpdatePassword(username, current, new, self._front.forwarded(request)))
        if isinstance(result, web.Response):
            return result
        answer = session_answers.update_password(result)
        return problems.json_body_response(answer.status, answer.body)

    async def _ask_daemon(self, command: SessionCommand) -> SessionResult | web.Response:
        """The daemon's result, or the 503 that answers for a daemon that does not."""
        try:
            return await self._front.daemon.call(command)
        except SessionDaemonUnavailable:
            return daemon_down(command.OP)


def daemon_down(op: str) -> web.Response:
    """The 503 that answers for a daemon that does not."""
    log.error("session daemon did not answer", extra={"event": "session_daemon_unavailable", "op": op})
    return problems.session_service_down()
