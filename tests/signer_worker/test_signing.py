"""Signature maths against the reference test vector and the Manager's own recomputation rules."""

from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest

from signer_worker.signing import (
    authorization_header,
    derive_signing_key,
    graphql_token,
    signature,
    signed_headers,
    string_to_sign,
)

VECTOR = dict(
    secret="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd",
    method="POST",
    target="/admin/gql",
    date="2024-03-01T09:30:00.123456+00:00",
    host="127.0.0.1:8091",
    content_type="application/json",
    version="v7.20230615",
)


def test_reference_vector_signature():
    v = VECTOR
    got = signature(
        v["secret"], v["method"], v["target"], v["date"], v["host"], v["content_type"], v["version"], "20240301"
    )
    assert got == "97039a58b222c44b049e5c4fb694ee516bb551c8dce8583228176045ef5a472f"


def test_reference_vector_intermediate_keys():
    key = derive_signing_key(VECTOR["secret"], "20240301", VECTOR["host"])
    assert key.hex().startswith("e6b65827") and key.hex().endswith("1d65bd9a")


def test_string_to_sign_has_seven_lines_and_empty_body_hash():
    text = string_to_sign("get", "/auth?echo=x", "D", "h:1", "Application/JSON", "v7.20230615")
    lines = text.split("\n")
    assert lines == [
        "GET",
        "/auth?echo=x",
        "D",
        "host:h:1",
        "content-type:application/json",
        "x-backendai-version:v7.20230615",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]


def test_signed_headers_sign_the_date_they_send():
    moment = datetime(2024, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    v = VECTOR
    headers = signed_headers(
        "AK", v["secret"], v["method"], v["target"], v["host"], v["content_type"], v["version"], moment
    )
    assert headers["Date"] == v["date"]
    assert headers["Authorization"] == authorization_header(
        "AK", "97039a58b222c44b049e5c4fb694ee516bb551c8dce8583228176045ef5a472f"
    )
    assert headers["Authorization"].startswith("BackendAI signMethod=HMAC-SHA256, credential=AK:")


def test_the_key_is_derived_from_the_utc_date_of_the_signed_moment():
    # 01:00 on 2 March in Seoul is still 1 March in UTC, the date the Manager derives its key with.
    seoul = datetime(2024, 3, 2, 1, 0, 0, tzinfo=timezone(timedelta(hours=9)))
    v = VECTOR
    headers = signed_headers("AK", v["secret"], "GET", "/", v["host"], "application/json", v["version"], seoul)
    assert headers["Date"] == "2024-03-01T16:00:00+00:00"
    expected = signature(
        v["secret"], "GET", "/", headers["Date"], v["host"], "application/json", v["version"], "20240301"
    )
    assert headers["Authorization"] == authorization_header("AK", expected)


def test_signing_now_signs_the_current_utc_date():
    v = VECTOR
    headers = signed_headers("AK", v["secret"], "GET", "/", v["host"], "application/json", v["version"])
    moment = datetime.fromisoformat(headers["Date"])
    assert moment.utcoffset() == timedelta(0)
    expected = signature(
        v["secret"], "GET", "/", headers["Date"], v["host"], "application/json", v["version"], moment.strftime("%Y%m%d")
    )
    assert headers["Authorization"] == authorization_header("AK", expected)


@pytest.mark.parametrize(
    "role, claimed", [("superadmin", "superadmin"), ("admin", "admin"), ("user", "user"), ("monitor", "user")]
)
def test_graphql_token_claims(role, claimed):
    token = graphql_token("AK", "s" * 40, role, 900, now=1_700_000_000.7)
    claims = jwt.decode(token, "s" * 40, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"exp": 1_700_000_900, "iat": 1_700_000_000, "access_key": "AK", "role": claimed}
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
