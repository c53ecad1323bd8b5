"""Identity assertions: verifiable with the published JWKS, bound to one deployment, useless elsewhere."""

from __future__ import annotations

import time

import jwt
import pytest

from contract.identity import assertion, jwks_document, load_signing_key, new_signing_key_pem, public_jwk

KEY = load_signing_key(new_signing_key_pem())
KID = public_jwk(KEY)["kid"]


def mint(audience="scoring", lifetime=60, now=None) -> str:
    return assertion(
        KEY,
        KID,
        issuer="webui-host",
        audience=audience,
        user_id="alice@lablup.com",
        role="user",
        lifetime=lifetime,
        now=now or time.time(),
    )


def verify(token: str, audience: str = "scoring") -> dict:
    jwks = jwt.PyJWKSet.from_dict(jwks_document([KEY]))
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer="webui-host")


def test_an_upstream_verifies_the_assertion_with_the_published_keys():
    claims = verify(mint())
    assert (claims["sub"], claims["email"], claims["role"], claims["aud"]) == (
        "alice@lablup.com",
        "alice@lablup.com",
        "user",
        "scoring",
    )
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"]


@pytest.mark.parametrize(
    "token, audience, error",
    [
        (lambda: mint(audience="other"), "scoring", jwt.InvalidAudienceError),  # another deployment's assertion
        (lambda: mint(now=time.time() - 120), "scoring", jwt.ExpiredSignatureError),
        (lambda: mint()[:-4] + "AAAA", "scoring", jwt.InvalidSignatureError),
    ],
)
def test_assertions_are_refused_outside_their_scope(token, audience, error):
    with pytest.raises(error):
        verify(token(), audience)


def test_the_public_document_holds_no_private_part():
    (jwk,) = jwks_document([KEY])["keys"]
    assert set(jwk) == {"crv", "kty", "x", "y", "kid", "alg", "use"}


def test_an_assertion_is_not_a_manager_credential():
    """The Manager verifies HS256 tokens with the user's secret key; an ES256 assertion never passes."""
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(mint(), "any-secret-key", algorithms=["HS256"], options={"verify_aud": False})
