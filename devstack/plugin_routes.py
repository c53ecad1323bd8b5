"""Stand-ins for the Manager routes Backend.AI's webserver forwards anonymously, and for FastTrack.

* ``POST /auth/signup``: the Manager's ``auth.signup`` answer shape (``201 {access_key, secret_key}``),
  with its parameter check (``domain``, ``email``, ``password``) and a 409-like refusal for a known email.
* ``/saml/*``, ``/openid/*``, ``/custom-auth/*``, ``/cloud/*``: auth-plugin stubs.
* ``HEAD``/``PATCH``/``OPTIONS /folders/_/tus/upload/<token>``: a tus stub.
* ``/fasttrack/*``: a pipeline-server stub (the tests point ``[pipeline] endpoint`` at it).

Each stub echoes what reached it that matters for the proxy's rules (in the body, or in headers for
HEAD and tus): whether an ``Authorization`` header came (a signature would be a leak), the cookies,
the ``X-BackendAI-SSO`` token.  An auth-plugin stub answers each ``set_cookie`` query value as a
``Set-Cookie``, as a Manager plugin may set cookies of its own.  None requires auth, as in the
Manager: the gateway still verifies any route that does, on exactly the bytes sent.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from devstack.params import json_object, required_str
from devstack.problems import GENERIC_BAD_REQUEST, INVALID_API_PARAMS, Problem
from devstack.state import USERS_KEY

routes = web.RouteTableDef()


def _seen(request: web.Request) -> dict[str, object]:
    return {
        "method": request.method,
        "path": request.raw_path,
        "authorization": "Authorization" in request.headers,
        "cookie": request.headers.get("Cookie"),
        "sso": request.headers.get("X-BackendAI-SSO"),
        "session_id_header": request.headers.get("X-BackendAI-SessionID"),
    }


@routes.post("/auth/signup")
async def signup(request: web.Request) -> web.Response:
    params = await json_object(request)
    domain, email, _password = (required_str(params, k) for k in ("domain", "email", "password"))
    if domain != "default":
        raise Problem(INVALID_API_PARAMS, "No such domain.")
    if request.app[USERS_KEY].by_email(email) is not None:
        raise Problem(GENERIC_BAD_REQUEST, "Email already exists.")
    return web.json_response(
        {"access_key": "AKIA" + secrets.token_hex(8).upper(), "secret_key": secrets.token_urlsafe(30)}, status=201
    )


async def _plugin_echo(request: web.Request) -> web.Response:
    body = await request.read()
    answer = web.json_response({**_seen(request), "body": body.decode("utf-8", "replace")})
    for cookie in request.query.getall("set_cookie", ()):  # as a plugin sets its own (an OpenID state, a token)
        answer.headers.add("Set-Cookie", cookie)
    return answer


for _prefix in ("saml", "openid", "custom-auth", "cloud"):
    routes.route("*", f"/{_prefix}/{{tail:.*}}")(_plugin_echo)


@routes.route("*", "/folders/_/tus/upload/{token}")
async def tus_upload(request: web.Request) -> web.StreamResponse:
    if request.method not in ("HEAD", "PATCH", "OPTIONS"):
        raise web.HTTPMethodNotAllowed(request.method, ["HEAD", "PATCH", "OPTIONS"])
    offset = int(request.headers.get("Upload-Offset", "0") or 0)
    body = await request.read()
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset + len(body)),
        "X-Devstack-Saw-Authorization": str("Authorization" in request.headers).lower(),
        "X-Devstack-Saw-Cookie": request.headers.get("Cookie", ""),
        "X-Devstack-Saw-Tus": request.headers.get("Tus-Resumable", ""),
    }
    return web.Response(status=204 if request.method != "OPTIONS" else 200, headers=headers)


@routes.route("*", "/fasttrack/{tail:.*}")
async def pipeline_echo(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() == "websocket":  # FastTrack's /stream/* sockets
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(_seen(request))
        await socket.close()
        return socket
    return web.json_response(_seen(request))
