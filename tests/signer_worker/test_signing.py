"""Signature maths against the reference test vector and the Manager's own recomputation rules."""

import hmac
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.redis_layout import SecretRecord
from signer_worker.signing import (
    MAX_HOSTS,
    Keypair,
    _UtcSecond,
    authorization_header,
    derive_signing_key,
    graphql_token,
    iso_utc,
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


def _uncached(keypair: Keypair, moment: datetime, host: str = VECTOR["host"]) -> dict[str, str]:
    """What a keypair must sign at ``moment``: every key derived anew (the reference path)."""
    utc = moment.astimezone(UTC)
    hex_signature = signature(
        keypair.secret_key, "GET", "/func/x", utc.isoformat(), host, "application/json", "v8", utc.strftime("%Y%m%d")
    )
    return {"Date": utc.isoformat(), "Authorization": authorization_header(keypair.access_key, hex_signature)}


def test_a_keypair_derives_its_signing_key_once_per_date_and_host():
    keypair = Keypair.of(SecretRecord("AK", VECTOR["secret"], "user", 0.0, "u"))
    first = keypair.keyed("20240301", VECTOR["host"])
    assert keypair.keyed("20240301", VECTOR["host"]) is first  # remembered, not derived again
    other_host = keypair.keyed("20240301", "10.0.0.2:8091")
    assert other_host is not first and keypair.keyed("20240301", VECTOR["host"]) is first
    next_day = keypair.keyed("20240302", VECTOR["host"])
    assert next_day is not first  # a new date derives anew
    reference = hmac.new(derive_signing_key(VECTOR["secret"], "20240302", VECTOR["host"]), b"m", "sha256")
    assert next_day.hexdigest(b"m") == reference.hexdigest()


def test_a_keypair_signs_as_the_uncached_path_across_midnight():
    keypair = Keypair("AK", VECTOR["secret"])
    for moment in (
        datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=UTC),  # the next UTC date: the key of the new date
        datetime(2024, 3, 2, 8, 0, 0, tzinfo=timezone(timedelta(hours=9))),  # 23:00 UTC on 1 March: back to its key
        datetime(2024, 3, 2, 12, 0, 0, tzinfo=UTC),
    ):
        got = keypair.signed_headers("GET", "/func/x", VECTOR["host"], "application/json", "v8", moment)
        assert got == _uncached(keypair, moment)


def test_a_new_keypair_for_the_same_session_signs_with_its_own_secret():
    moment = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    old = Keypair("AK", VECTOR["secret"])
    old.signed_headers("GET", "/func/x", VECTOR["host"], "application/json", "v8", moment)
    new = Keypair("AK", "another-secret-key-of-forty-characters-x")  # re-read after the key changed
    assert new.signed_headers("GET", "/func/x", VECTOR["host"], "application/json", "v8", moment) == _uncached(
        new, moment
    )


def test_a_keypair_keeps_a_bounded_number_of_derived_keys():
    keypair = Keypair("AK", VECTOR["secret"])
    for index in range(MAX_HOSTS * 3):
        keypair.keyed("20240301", f"10.0.0.{index}:8091")
        assert len(keypair._keyed) <= MAX_HOSTS


def _reference_iso(unix_ns: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=unix_ns // 1000)).isoformat()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 3, 2, 0, 0, 0, 0, tzinfo=UTC),  # no fraction: isoformat writes none
        datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, 0, 100000, tzinfo=UTC),  # trailing zeros kept: six digits
        datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2024, 3, 2, 0, 0, 0, 0, tzinfo=UTC),  # the same second again, after another one
    ],
)
def test_the_date_of_a_signature_is_isoformat_of_the_moment(moment):
    unix_ns = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000 + 999
    assert iso_utc(unix_ns) == moment.isoformat() == _reference_iso(unix_ns)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), min_size=1, max_size=5))
def test_any_sequence_of_moments_is_dated_as_isoformat(moments):
    for unix_ns in moments:  # the second remembered from one call must not leak into the next
        assert iso_utc(unix_ns) == _reference_iso(unix_ns)
        # The signing key's date tag that ``Keypair.signed_headers`` takes with it: the same moment's.
        assert _UtcSecond.tag == datetime.fromisoformat(_reference_iso(unix_ns)).strftime("%Y%m%d")


def test_a_keypair_signs_now_with_the_date_it_sends():
    keypair = Keypair("AK", VECTOR["secret"])
    headers = keypair.signed_headers("GET", "/func/x", VECTOR["host"], "application/json", "v8")
    moment = datetime.fromisoformat(headers["Date"])
    assert moment.isoformat() == headers["Date"] and abs(moment - datetime.now(UTC)) < timedelta(seconds=5)
    assert headers == _uncached(keypair, moment)
