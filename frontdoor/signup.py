"""``POST /func/auth/signup`` when ``[service] enable_signup``: anonymous, as in Backend.AI 23.09.

Backend.AI's webserver forwards it unsigned (``web_plugin_handler``), with the body's ``domain``
replaced by ``[api] domain``.  The Manager's answer (``auth.signup``) is ``201 {access_key,
secret_key}``: the new account's first keypair.  A secret key must never pass through the front door,
so the request goes to the session daemon (operation ``signup``), which calls the Manager itself and
answers with the access key only.  The Web UI's signup dialog reads nothing of the answer but its
status, so nothing it needs is lost.

The password rules of the login form apply (``contract.login_fields``), and the per-address login limit is
applied by ``security`` before this handler runs.  When signup is off the path is refused by name
(``manager_auth``), before any session is read.
"""

from __future__ import annotations

from aiohttp import web

from contract.login_fields import as_sentence, password_problem, username_problem
from contract.session_commands import Signup
from frontdoor import problems, session_answers
from frontdoor.auth_routes import json_object_or_refusal
from frontdoor.context import FrontDoor
from frontdoor.daemon_client import SessionDaemonUnavailable
from frontdoor.special_routes import SIGNUP_PATH


class SignupRoute:
    def __init__(self, front: FrontDoor):
        self._front = front

    def register(self, app: web.Application) -> None:
        app.router.add_post(SIGNUP_PATH, self.signup)  # before the /func catch-all

    async def signup(self, request: web.Request) -> web.Response:
        front = self._front
        if not front.config.service.enable_signup:  # reloadable: the guard refuses it first, this is a backstop
            return problems.problem(403, "webserver/auth-endpoint-refused", "Signup is not enabled.")
        body = await json_object_or_refusal(request, self._front.daemon, malformed_is_empty=False)
        if isinstance(body, web.Response):
            return body
        email, password = body.pop("email", None), body.pop("password", None)
        if not isinstance(email, str) or not email.strip():
            return _missing("email")
        if not isinstance(password, str) or not password:
            return _missing("password")
        problem = username_problem(email.strip()) or password_problem(password)
        if problem is not None:
            return problems.bad_request(
                "Invalid signup fields.", slug="invalid-api-params", details=as_sentence(problem)
            )
        body.pop("domain", None)  # ours, as Backend.AI sets it
        command = Signup(email.strip(), password, body, front.forwarded(request))
        try:
            result = await front.daemon.call(command)
        except SessionDaemonUnavailable:
            return problems.session_service_down()
        answer = session_answers.signup(result)
        return problems.json_body_response(answer.status, answer.body)


def _missing(name: str) -> web.Response:
    return problems.bad_request(f"You must provide the {name} field.", slug="invalid-api-params")
