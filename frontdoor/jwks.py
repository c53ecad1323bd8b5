"""``GET /.well-known/webui-host/jwks.json``: the public keys of identity assertions.

Deployments with signing ``identity`` verify the ``X-WebUI-Host-Jwt-Assertion`` they receive with
these keys.  The front door only ever reads the public document the launcher wrote next to the
signers' private key; it is re-read when the file changes (a key rotation needs no restart).
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from contract.identity import JWKS_FILE, JWKS_PATH
from frontdoor import problems


class JwksDocument:
    def __init__(self, path: Path):
        self._path = path
        self._seen: tuple[int, int] | None = None
        self._body = b""

    def register(self, app: web.Application) -> None:
        app.router.add_get(JWKS_PATH, self.handle)

    async def handle(self, _request: web.Request) -> web.Response:
        body = self._current()
        if body is None:
            return problems.problem(503, "service-unavailable", "No identity keys are published.")
        return web.Response(
            body=body,
            content_type="application/json",
            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
        )

    def _current(self) -> bytes | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        if self._seen != (stat.st_mtime_ns, stat.st_size):
            document = json.loads(self._path.read_bytes())
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                return None
            self._body = json.dumps({"keys": [_public(k) for k in document["keys"]]}).encode()
            self._seen = (stat.st_mtime_ns, stat.st_size)
        return self._body


_PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid", "alg", "use")


def _public(jwk: dict) -> dict:
    """Only public members, whatever the file holds (a private ``d`` must never be served)."""
    return {name: jwk[name] for name in _PUBLIC_MEMBERS if name in jwk}


def jwks_for(secrets_dir: Path) -> JwksDocument:
    return JwksDocument(secrets_dir / JWKS_FILE)
