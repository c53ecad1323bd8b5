"""``/pipeline/<path>`` -> the FastTrack pipeline server's ``/<path>`` (``[pipeline] endpoint``).

Backend.AI 23.09 (``proxy.web_handler``) signs these with the user's Backend.AI keypair, as if the
pipeline were the Manager, and adds ``X-BackendAI-SSO``: an HS256 JWT (``[pipeline] jwt.secret``) with
``iss = "Backend.AI Webserver"``, ``iat``, ``exp`` (now + ``[session] max_age``), the user's
``access_key`` and the browser's session cookie (``aiohttp_session``), plus ``X-BackendAI-SessionID``.

Here the pipeline is a separate upstream: it gets the JWT (worth nothing at the Manager) and nothing
the Manager or this web server would accept, so no HMAC signature, no session cookie (neither in
the JWT nor as a header) and no browser ``Authorization``.  A browser's own ``X-BackendAI-SSO`` (a
pipeline token) is passed on instead of ours, as Backend.AI does.  Only logged-in users are proxied.

The Web UI's pipeline login (``POST /pipeline/auth-token/``, ``client.pipeline.login``) sends the
user's Backend.AI password *and secret key* in its body.  The 23.09 bundle never calls it (its
``_enablePipeline`` is fixed to false), and those are Manager credentials: that request, and any
``POST`` to a ``.../login/`` path (newer releases' pipeline login route), is refused by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import unquote

from contract.config import Config
from contract.webapi import Deployment, SigningMode

PIPELINE_PREFIX = "/pipeline"
SSO_HEADER = "X-BackendAI-SSO"
ISSUER = "Backend.AI Webserver"
# Not a deployment name one can define (':' is refused there), so its endpoint health is its own.
PIPELINE_DEPLOYMENT = "pipeline:fasttrack"


def credential_login(method: str, raw_rest: str) -> bool:
    """Whether this is a pipeline login, whose body carries the user's Backend.AI password and secret key."""
    if method != "POST":
        return False
    segments = [s for s in unquote(raw_rest.partition("?")[0]).lower().split("/") if s]
    return bool(segments) and (segments[-1] == "auth-token" or segments[-1].endswith("login"))


def pipeline_deployment(config: Config) -> Deployment:
    """The pipeline server as an upstream of the proxy: unsigned, cookies kept under /pipeline."""
    return Deployment(
        name=PIPELINE_DEPLOYMENT,
        group=config.signers.group,
        route_prefix=PIPELINE_PREFIX,
        upstreams=(config.pipeline.endpoint,),
        signing=SigningMode.NONE,
        connect_timeout=config.api.connect_timeout,
        response_timeout=config.api.response_timeout,
    )


def pipeline_token(config: Config, access_key: str, now: float | None = None) -> str:
    """Backend.AI's pipeline JWT, less the session cookie it carried (``aiohttp_session``)."""
    issued = int(now if now is not None else time.time())
    claims = {
        "exp": issued + config.session.max_age,
        "iss": ISSUER,
        "iat": issued,
        "access_key": access_key,
    }
    return hs256_jwt(claims, config.pipeline.jwt.secret)


def hs256_jwt(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT written as PyJWT writes it (header keys sorted, compact JSON): PyJWT itself loads
    cryptography (~7-9 MiB), which no path a browser reaches may bring into a front door."""
    header = json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"), sort_keys=True)
    payload = json.dumps(claims, separators=(",", ":"))
    signing_input = _b64url(header.encode()) + "." + _b64url(payload.encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pipeline_headers(config: Config, access_key: str, browser_token: str | None) -> dict[str, str]:
    return {SSO_HEADER: browser_token or pipeline_token(config, access_key)}
