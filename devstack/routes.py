"""Manager API routes: version, login, password, auth test/role and GraphQL (devstack.graphql, .cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp import web

from devstack.auth import auth_required
from devstack.cluster import root_for
from devstack.graphql import GraphQLSyntaxError, execute
from devstack.params import api_params, json_object, required_str
from devstack.problems import AUTH_FAILED, GENERIC_BAD_REQUEST, INVALID_API_PARAMS, PASSWORD_EXPIRED, Problem
from devstack.state import SETTINGS_KEY, USERS_KEY, audit_of
from devstack.users import UserDirectory, UserRecord
from devstack.verify import LATEST_API_VERSION

MANAGER_VERSION = "26.8.1-devstack"

routes = web.RouteTableDef()


@routes.get("/")
async def manager_version(request: web.Request) -> web.Response:
    return web.json_response({"version": LATEST_API_VERSION, "manager": MANAGER_VERSION})


def _check_credential(users: UserDirectory, domain: str, email: str, password: str) -> UserRecord:
    user = users.by_email(email)
    if user is None or user.domain != domain or not user.password_matches(password):
        raise Problem(AUTH_FAILED, "User credential mismatch.")
    return user


def _check_login_allowed(request: web.Request, user: UserRecord) -> None:
    # Same order and wording as the Manager's authorize handler (docs/protocol.md §2.9).
    if user.status == "before-verification":
        raise Problem(AUTH_FAILED, "This account needs email verification.")
    if not user.is_active:
        raise Problem(AUTH_FAILED, "User credential mismatch.")
    max_age = request.app[SETTINGS_KEY].max_password_age
    if max_age is not None and datetime.now(UTC) - user.password_changed_at > max_age:
        raise Problem(PASSWORD_EXPIRED, "Password expired.")


# A pretend authorize-hook plugin: these single sign-on tokens (sToken) log in as their user, whatever
# user name and password come along (Backend.AI's webserver sends placeholders with a token).
SSO_TOKENS = {"devstack-sso-token-user": "user@lablup.com"}


@routes.post("/auth/authorize")
async def authorize(request: web.Request) -> web.Response:
    params = await json_object(request)  # extra keys (otp, sToken, force...) are allowed
    auth_type = required_str(params, "type")
    domain, username, password = (required_str(params, k) for k in ("domain", "username", "password"))
    if auth_type != "keypair":
        raise Problem(INVALID_API_PARAMS, "Unsupported authorization type")
    if "sToken" in params:
        email = SSO_TOKENS.get(params["sToken"]) if isinstance(params["sToken"], str) else None
        user = request.app[USERS_KEY].by_email(email) if email else None
        if user is None or user.domain != domain:
            raise Problem(AUTH_FAILED, "Invalid single sign-on token.")
    else:
        user = _check_credential(request.app[USERS_KEY], domain, username, password)
    _check_login_allowed(request, user)
    return web.json_response(
        {
            "data": {
                "access_key": user.access_key,
                "secret_key": user.secret_key,
                "role": user.role,
                "status": user.status,
                "user_id": user.user_id,
                "type": "keypair",
                "response_type": "success",
            }
        }
    )


@routes.post("/auth/update-password-no-auth")
async def update_password_no_auth(request: web.Request) -> web.Response:
    params = await json_object(request)
    domain, username, current, new = (
        required_str(params, k) for k in ("domain", "username", "current_password", "new_password")
    )
    # The Manager only offers this when a password max-age policy exists.
    if request.app[SETTINGS_KEY].max_password_age is None:
        raise Problem(GENERIC_BAD_REQUEST, "Unsupported function.")
    users = request.app[USERS_KEY]
    user = _check_credential(users, domain, username, current)
    if not user.is_active:
        raise Problem(AUTH_FAILED, "User credential mismatch.")
    if user.password_matches(new):
        raise Problem(AUTH_FAILED, "Cannot update to the same password as an existing password.")
    changed_at = users.change_password(user.email, new)
    return web.json_response({"password_changed_at": changed_at.isoformat()}, status=201)


@auth_required
async def auth_test(request: web.Request) -> web.Response:
    params = await api_params(request)
    return web.json_response({"authorized": "yes", "echo": required_str(params, "echo")})


routes.get("/auth")(auth_test)
routes.post("/auth")(auth_test)


def _current_user(request: web.Request) -> UserRecord:
    user = audit_of(request).user
    assert user is not None, "auth_required handler reached without a user"
    return user


@routes.get("/auth/role")
@auth_required
async def auth_role(request: web.Request) -> web.Response:
    user = _current_user(request)
    return web.json_response(
        {
            "global_role": "superadmin" if user.role == "superadmin" else "user",
            "domain_role": "admin" if user.is_admin else "user",
            "group_role": None,
        }
    )


@auth_required
async def graphql(request: web.Request) -> web.Response:
    params = await api_params(request)
    query = required_str(params, "query")
    variables = params.get("variables")
    if isinstance(variables, str):  # GET carries them JSON-encoded in the query string
        try:
            variables = json.loads(variables)
        except json.JSONDecodeError:
            raise Problem(INVALID_API_PARAMS, "variables: must be a JSON object") from None
    if variables is not None and not isinstance(variables, dict):
        raise Problem(INVALID_API_PARAMS, "variables: must be a JSON object")
    operation_name = params.get("operationName")
    root = root_for(_current_user(request))
    try:
        body = execute(query, root, variables, operation_name if isinstance(operation_name, str) else None)
    except GraphQLSyntaxError as exc:
        # Text the tiny parser cannot read still gets the old stand-in answer, plus the reason.
        body = {"data": {"me": root["me"]}, "errors": [{"message": f"devstack: {exc}"}]}
    body["extensions"] = {"auth_method": audit_of(request).auth_method}
    return web.json_response(body)


for _path in ("/admin/graphql", "/admin/gql"):
    routes.get(_path)(graphql)
    routes.post(_path)(graphql)
