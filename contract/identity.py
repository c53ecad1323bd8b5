"""Identity assertions for deployments other than the Manager (pure functions, no I/O).

A ``/webapi/<name>/`` deployment never receives anything the Manager accepts.  Instead, when its
signing mode is ``identity``, every request carries a short-lived JWT signed with webui-host's own
ES256 key (held by the signers only), like Pomerium's ``X-Pomerium-Jwt-Assertion``:

- header ``X-WebUI-Host-Jwt-Assertion``;
- claims ``iss`` (``[webapi] identity_issuer``), ``aud`` (the deployment's name), ``sub`` and
  ``email`` (the Backend.AI user id), ``role``, ``iat``/``nbf``/``exp`` (``identity_lifetime``), ``jti``;
- public keys as a JWKS at ``/.well-known/webui-host/jwks.json`` (``kid`` = RFC 7638 thumbprint).

An upstream verifies the signature, ``aud`` equal to its own deployment name and ``exp``; an assertion
for one deployment is refused by every other one and by the Manager.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# cryptography and PyJWT are imported where they are used: the front door needs only the constants
# below (it serves the JWKS file as it is) and would load ~9 MiB and ~70 ms for them.

ASSERTION_HEADER = "X-WebUI-Host-Jwt-Assertion"
ALGORITHM = "ES256"
SIGNING_KEY_FILE = "identity-signing.key"  # private: signers only
JWKS_FILE = "identity-jwks.json"  # public: served by the front door
JWKS_PATH = "/.well-known/webui-host/jwks.json"


def new_signing_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signing_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the identity signing key must be an EC P-256 private key")
    return key


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    required = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x), "y": _b64(numbers.y)}
    thumbprint = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
    kid = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    return {**required, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def jwks_document(keys: list[ec.EllipticCurvePrivateKey]) -> dict[str, Any]:
    return {"keys": [public_jwk(key) for key in keys]}


def assertion(
    key: ec.EllipticCurvePrivateKey,
    kid: str,
    *,
    issuer: str,
    audience: str,
    user_id: str,
    role: str,
    lifetime: int,
    now: float,
) -> str:
    import jwt

    issued = int(now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "email": user_id,
        "role": role,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})
