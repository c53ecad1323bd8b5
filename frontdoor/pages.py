"""Our own web pages under ``/ui/``: login, home (who, role, session countdown), API console, logout.

They sit beside whatever bundle ``static_path`` serves at ``/``, so the official Web UI and these
pages never share a URL.  Login and logout are plain HTML forms (they work without JavaScript);
the session cookie and the failed-login counter are the same as for ``/server/login``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from aiohttp import web
from yarl import URL

from contract.login_fields import password_problem, username_problem
from contract.redis_layout import SessionRecord
from contract.session_commands import Login, Logout
from contract.session_results import (
    InvalidCommand,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    SessionResult,
    StoreUnavailable,
)
from frontdoor import session_answers
from frontdoor.context import FrontDoor, session_cookie_value
from frontdoor.daemon_client import SessionDaemonUnavailable
from frontdoor.observability import USER_ID_KEY
from frontdoor.page_render import ASSET_PREFIX, OWN_ASSETS, render_page
from frontdoor.return_path import DEFAULT_RETURN_PATH, LOGIN_PATH, is_same_origin_post, safe_return_path
from frontdoor.static import StaticFiles

log = logging.getLogger(__name__)
NOTICES = {"expired": "reason_expired", "logged_out": "reason_logged_out", "login_required": "reason_login_required"}


def login_error(result: SessionResult) -> tuple[str, dict[str, Any]]:
    """The message key (and its values) for a login the session daemon did not grant."""
    match result:
        case LoginBlocked(retry_after=seconds):
            return "error_blocked", {"minutes": max(1, math.ceil(seconds / 60))}
        case ManagerRefused(status=429):  # the Manager's own limit: no wait to tell
            return "error_blocked", {"minutes": 1}
        case ManagerRefused(status=401):
            return "error_wrong_password", {}
        case ManagerUnavailable() | ManagerRefused(status=502 | 504):
            return "error_manager_unreachable", {}
        case StoreUnavailable() | ManagerRefused(status=503):
            return "error_service_down", {}
        case ManagerRefused(msg=msg, title=title):
            reason = msg or title
        case InvalidCommand(details=details):
            reason = details
        case _:
            reason = "Internal server error."
    return "error_login_failed", {"reason": reason[:200]}


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


class Pages:
    def __init__(self, front: FrontDoor):
        self._front = front

    def register(self, app: web.Application) -> None:
        app.router.add_get("/ui", self.ui_root)
        app.router.add_get("/ui/", self.home)
        app.router.add_get("/ui/console", self.console)
        app.router.add_get("/ui/webapi", self.webapi_groups)
        app.router.add_get(LOGIN_PATH, self.login_form)
        app.router.add_post(LOGIN_PATH, self.login_submit)
        app.router.add_post("/ui/logout", self.logout)
        StaticFiles(OWN_ASSETS, spa_fallback=False, prefix=ASSET_PREFIX).register(app)

    async def ui_root(self, _request: web.Request) -> web.Response:
        """``/ui``: to the default page (an async handler: aiohttp deprecates bare ones)."""
        return see_other(DEFAULT_RETURN_PATH)

    async def _session(self, request: web.Request) -> tuple[str | None, SessionRecord | None]:
        session_id = session_cookie_value(request, self._front.config)
        return session_id, await self._front.session(request)

    def _to_login(self, request: web.Request, had_cookie: bool) -> web.Response:
        reason = "expired" if had_cookie else "login_required"
        return see_other(str(URL(LOGIN_PATH).with_query(next=request.rel_url.path_qs, reason=reason)))

    async def _signed_in_page(self, request: web.Request, template: str, **context: Any) -> web.Response:
        session_id, record = await self._session(request)
        if record is None:
            return self._to_login(request, had_cookie=session_id is not None)
        self._front.sessions.keep_alive(session_id, record)
        request[USER_ID_KEY] = record.user_id
        return render_page(request, template, user=record, **context)

    async def home(self, request: web.Request) -> web.Response:
        return await self._signed_in_page(request, "ui/home.html", page="home", now=time.time())

    async def console(self, request: web.Request) -> web.Response:
        path = request.query.get("path", "auth?echo=hello")[:1024]
        return await self._signed_in_page(request, "ui/console.html", page="console", path=path)

    async def webapi_groups(self, request: web.Request) -> web.Response:
        """The Web API Groups overview; its script reads /api/webapi/groups (rights are checked there)."""
        return await self._signed_in_page(request, "ui/webapi.html", page="webapi")

    async def login_form(self, request: web.Request) -> web.Response:
        next_path = safe_return_path(request.query.get("next"))
        _, record = await self._session(request)
        if record is not None:
            return see_other(next_path)
        notice = NOTICES.get(request.query.get("reason", ""))
        return render_page(
            request, "ui/login.html", page="login", next_path=next_path, notice=notice, error=None, username=""
        )

    async def login_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        next_path = safe_return_path(_text(form.get("next")))
        username, password = _text(form.get("username")).strip(), _text(form.get("password"))

        def again(status: int, key: str, **values: Any) -> web.Response:
            return render_page(
                request,
                "ui/login.html",
                status=status,
                page="login",
                next_path=next_path,
                notice=None,
                error=(key, values),
                username=username[:256],
            )

        if not is_same_origin_post(request.host, request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site")):
            return again(403, "error_cross_site")
        if (await self._session(request))[1] is not None:
            return see_other(next_path)
        if not username or not password:
            return again(400, "error_missing_fields")
        problem = username_problem(username) or password_problem(password)
        if problem is not None:  # the same checks as the JSON login
            return again(400, "error_login_failed", reason=problem)
        try:
            result = await self._front.daemon.call(Login(username, password, {}, self._front.forwarded(request)))
        except SessionDaemonUnavailable:
            log.error("session daemon did not answer", extra={"event": "session_daemon_unavailable", "op": "login"})
            return again(503, "error_service_down")
        if isinstance(result, LoginSucceeded):
            request[USER_ID_KEY] = username
            response = see_other(next_path)
            self._front.set_session_cookie(request, response, result.session_id)
            return response
        status = session_answers.login(result).status  # what the JSON login answers with
        key, values = login_error(result)
        return again(status if 400 <= status < 600 else 400, key, **values)

    async def logout(self, request: web.Request) -> web.Response:
        if not is_same_origin_post(request.host, request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site")):
            raise web.HTTPForbidden()
        session_id = session_cookie_value(request, self._front.config)
        if session_id:
            try:
                await self._front.daemon.call(Logout(session_id))
            except SessionDaemonUnavailable:
                raise web.HTTPServiceUnavailable() from None
        response = see_other(str(URL(LOGIN_PATH).with_query(reason="logged_out")))
        response.del_cookie(self._front.config.session.cookie_name, path="/")
        return response


def _text(value: object) -> str:
    """A form field as text; file uploads and absent fields are empty."""
    return value if isinstance(value, str) else ""
