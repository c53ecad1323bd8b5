"""Pure, table-driven tests of devstack.verify against the protocol spec (§2, §3.1)."""

from __future__ import annotations

import hashlib
import hmac
import time
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from devstack import verify
from devstack.problems import Problem

# Reference vector from docs/protocol.md §2.3.
VECTOR_SECRET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"
VECTOR_DATE = "2024-03-01T09:30:00.123456+00:00"
VECTOR_SIGNATURE = "97039a58b222c44b049e5c4fb694ee516bb551c8dce8583228176045ef5a472f"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
NOW = datetime(2024, 3, 1, 9, 30, 0, tzinfo=UTC)


def vector_facts(**overrides: object) -> verify.SigningFacts:
    fields: dict[str, object] = dict(
        method="POST",
        raw_target="/admin/gql",
        raw_date=VECTOR_DATE,
        date_tag="20240301",
        host="127.0.0.1:8091",
        content_type="application/json",
        version=verify.VersionHeader("backendai", "v7.20230615"),
    )
    fields.update(overrides)
    return verify.SigningFacts(**fields)  # type: ignore[arg-type]


def problem_of(call, *args):
    with pytest.raises(Problem) as info:
        call(*args)
    return info.value


# --- signature ---------------------------------------------------------------


def test_reference_vector_signature() -> None:
    assert verify.compute_signature(VECTOR_SECRET, vector_facts(), "sha256") == VECTOR_SIGNATURE


def test_reference_vector_intermediate_keys() -> None:
    k1 = hmac.new(VECTOR_SECRET.encode(), b"20240301", "sha256").hexdigest()
    assert k1.startswith("f55b0d17") and k1.endswith("ee51304d")
    k2 = verify.derive_signing_key(VECTOR_SECRET, "20240301", "127.0.0.1:8091", "sha256").hex()
    assert k2.startswith("e6b65827") and k2.endswith("1d65bd9a")


def test_string_to_sign_layout() -> None:
    expected = (
        "POST\n/admin/gql\n" + VECTOR_DATE + "\nhost:127.0.0.1:8091\ncontent-type:application/json\n"
        "x-backendai-version:v7.20230615\n" + EMPTY_SHA256
    )
    assert verify.string_to_sign(vector_facts(), "sha256") == expected.encode()


def test_legacy_sorna_version_prefix_in_string_to_sign() -> None:
    facts = vector_facts(version=verify.VersionHeader("sorna", "v4.20190615"))
    assert b"\nx-sorna-version:v4.20190615\n" in verify.string_to_sign(facts, "sha256")


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"raw_target": "/admin/gql?x=1"},
        {"raw_date": "2024-03-01T09:30:00.123457+00:00"},
        {"date_tag": "20240302"},
        {"host": "127.0.0.1"},
        {"content_type": "application/json; charset=utf-8"},
        {"version": verify.VersionHeader("backendai", "v9.20250722")},
        {"version": verify.VersionHeader("sorna", "v7.20230615")},
        {"body": b"{}"},
    ],
)
def test_every_signed_fact_changes_the_signature(change: dict[str, object]) -> None:
    assert verify.compute_signature(VECTOR_SECRET, vector_facts(**change), "sha256") != VECTOR_SIGNATURE


def test_wrong_secret_changes_the_signature() -> None:
    assert verify.compute_signature(VECTOR_SECRET[:-1] + "e", vector_facts(), "sha256") != VECTOR_SIGNATURE


@pytest.mark.parametrize("hash_name", ["sha1", "sha512", "md5"])
def test_other_hashes_follow_the_same_derivation(hash_name: str) -> None:
    facts = vector_facts()
    k1 = hmac.new(VECTOR_SECRET.encode(), b"20240301", hash_name).digest()
    k2 = hmac.new(k1, b"127.0.0.1:8091", hash_name).digest()
    expected = hmac.new(k2, verify.string_to_sign(facts, hash_name), hash_name).hexdigest()
    assert verify.compute_signature(VECTOR_SECRET, facts, hash_name) == expected
    assert verify.string_to_sign(facts, hash_name).endswith(hashlib.new(hash_name, b"").hexdigest().encode())


@pytest.mark.parametrize(
    "expected, received, equal",
    [
        (VECTOR_SIGNATURE, VECTOR_SIGNATURE, True),
        (VECTOR_SIGNATURE, VECTOR_SIGNATURE.upper(), False),
        (VECTOR_SIGNATURE, VECTOR_SIGNATURE[:-1], False),
        (VECTOR_SIGNATURE, "é" * 64, False),
    ],
)
def test_signatures_equal(expected: str, received: str, equal: bool) -> None:
    assert verify.signatures_equal(expected, received) is equal


# --- Authorization header ----------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("BackendAI signMethod=HMAC-SHA256, credential=AK:sig", ("HMAC-SHA256", "AK", "sig")),
        ("Sorna signMethod=HMAC-SHA1, credential=AK:sig", ("HMAC-SHA1", "AK", "sig")),
        ("BackendAI  signMethod = HMAC-SHA256 ,credential= AK:s:ig ", ("HMAC-SHA256", "AK", "s:ig")),
        ("BackendAI credential=AK:sig, signMethod=HMAC-SHA256", ("HMAC-SHA256", "AK", "sig")),
    ],
)
def test_parse_authorization_accepts(header: str, expected: tuple[str, str, str]) -> None:
    assert verify.parse_authorization(header) == verify.AuthParams(*expected)


@pytest.mark.parametrize(
    "header, msg",
    [
        ("BackendAI", "Malformed authorization header"),
        ("Bearer token", "Invalid authorization type name"),
        ("backendai signMethod=HMAC-SHA256, credential=AK:sig", "Invalid authorization type name"),
        ("BackendAI signMethod=HMAC-SHA256", "Missing or malformed authorization parameters"),
        ("BackendAI credential=AK:sig", "Missing or malformed authorization parameters"),
        ("BackendAI signMethod=HMAC-SHA256, credential=AKsig", "Missing or malformed authorization parameters"),
        ("BackendAI signMethod=HMAC-SHA256, credential", "Missing or malformed authorization parameters"),
        ("BackendAI garbage", "Missing or malformed authorization parameters"),
    ],
)
def test_parse_authorization_rejects(header: str, msg: str) -> None:
    problem = problem_of(verify.parse_authorization, header)
    assert (problem.status, problem.kind.slug, problem.msg) == (400, "invalid-auth-params", msg)


@pytest.mark.parametrize(
    "sign_method, hash_name",
    [
        ("HMAC-SHA256", "sha256"),
        ("hmac-sha256", "sha256"),
        ("HMAC-SHA1", "sha1"),
        ("HMAC-SHA512", "sha512"),
        ("HMAC-MD5", "md5"),
        ("HMAC-SHA3_256", "sha3_256"),
    ],
)
def test_hash_name_of_accepts(sign_method: str, hash_name: str) -> None:
    assert verify.hash_name_of(sign_method) == hash_name


@pytest.mark.parametrize(
    "sign_method, status, slug",
    [
        ("RSA-SHA256", 400, "invalid-auth-params"),
        ("HMAC-WHIRLPOOL", 400, "invalid-auth-params"),
        ("HMAC-SHAKE_128", 400, "invalid-auth-params"),
        ("HMACSHA256", 401, "auth-failed"),
        ("HMAC-SHA3-256", 401, "auth-failed"),
    ],
)
def test_hash_name_of_rejects(sign_method: str, status: int, slug: str) -> None:
    problem = problem_of(verify.hash_name_of, sign_method)
    assert (problem.status, problem.kind.slug) == (status, slug)


# --- Date window -------------------------------------------------------------


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


@pytest.mark.parametrize(
    "headers, expected_raw",
    [
        ({"Date": iso(timedelta(0))}, iso(timedelta(0))),
        ({"Date": iso(timedelta(minutes=14, seconds=59))}, None),
        ({"Date": iso(-timedelta(minutes=14, seconds=59))}, None),
        ({"Date": "Fri, 01 Mar 2024 09:31:00 GMT"}, None),  # RFC 1123
        ({"Date": "Fri, 01 Mar 2024 18:31:00 +0900"}, None),  # RFC 2822 offset
        ({"Date": "2024-03-01T09:31:00"}, None),  # naive means UTC
        ({"Date": "2024-03-01T09:31:00.000Z"}, None),  # browser toISOString()
        ({"Date": "2024-03-01 18:31:00 KST"}, None),  # zone abbreviation
        ({"X-BackendAI-Date": iso(timedelta(0))}, None),
        ({"X-Sorna-Date": iso(timedelta(0))}, None),
        ({"Date": "", "X-BackendAI-Date": iso(timedelta(0))}, None),  # empty Date falls through
    ],
)
def test_check_date_accepts(headers: dict[str, str], expected_raw: str | None) -> None:
    signed = verify.check_date(headers, NOW)
    assert signed.raw == next(v for v in headers.values() if v)
    if expected_raw is not None:
        assert signed.raw == expected_raw


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Date": ""},
        {"Date": "not a date"},
        {"Date": iso(timedelta(minutes=15))},  # window is exclusive
        {"Date": iso(-timedelta(minutes=15))},
        {"Date": iso(timedelta(minutes=15, seconds=1))},
        {"Date": iso(-timedelta(minutes=15, seconds=1))},
        {"Date": "Fri, 01 Mar 2024 10:00:00 GMT"},
        {"Date": "2024-03-01T09:30:00+09:00"},  # offset puts it 9 h early
        {"Date": iso(timedelta(hours=1)), "X-BackendAI-Date": iso(timedelta(0))},  # Date wins
    ],
)
def test_check_date_rejects(headers: dict[str, str]) -> None:
    problem = problem_of(verify.check_date, headers, NOW)
    assert (problem.status, problem.kind.slug, problem.msg) == (400, "invalid-auth-params", "Date/time sync error")


@pytest.mark.parametrize(
    "raw, tag",
    [
        ("2024-03-01T09:30:00+00:00", "20240301"),
        ("2024-03-01T08:30:00+09:00", "20240301"),  # 2024-02-29 in UTC: the header's own offset counts
        ("2024-02-29T23:30:00-10:00", "20240229"),  # 2024-03-01 in UTC
        ("Fri, 01 Mar 2024 00:10:00 GMT", "20240301"),
        ("2024-03-01T00:10:00", "20240301"),
    ],
)
def test_date_tag_uses_the_headers_own_calendar_date(raw: str, tag: str) -> None:
    assert verify.date_tag_of(verify.parse_http_date(raw)) == tag


# --- API version -------------------------------------------------------------


@pytest.mark.parametrize(
    "new, legacy",
    [
        (None, None),
        ("v7.20230615", None),
        ("v9.20250722", None),
        ("v6.20210815", None),
        ("v4.20181215", None),
        (None, "v4.20190615"),
        ("", None),
    ],
)
def test_check_api_version_accepts(new: str | None, legacy: str | None) -> None:
    verify.check_api_version(new, legacy)


@pytest.mark.parametrize(
    "new, legacy",
    [
        ("v10.20300101", None),
        ("v9.20250723", None),
        ("v3.20170615", None),
        ("7.20230615", None),
        (None, "vX"),
        ("bogus", "v7.20230615"),
    ],
)
def test_check_api_version_rejects(new: str | None, legacy: str | None) -> None:
    problem = problem_of(verify.check_api_version, new, legacy)
    assert (problem.status, problem.kind.slug, problem.msg) == (400, "generic-bad-request", "Unsupported API version.")


@pytest.mark.parametrize(
    "new, legacy, expected",
    [
        ("v9.20250722", None, ("backendai", "v9.20250722")),
        ("v9.20250722", "v4.20190615", ("backendai", "v9.20250722")),
        (None, "v4.20190615", ("sorna", "v4.20190615")),
    ],
)
def test_signing_version(new: str | None, legacy: str | None, expected: tuple[str, str]) -> None:
    assert verify.signing_version(new, legacy) == verify.VersionHeader(*expected)


def test_signing_requires_a_version() -> None:
    problem = problem_of(verify.signing_version, None, None)
    assert (problem.status, problem.kind.slug) == (400, "invalid-auth-params")


@pytest.mark.parametrize(
    "version, content_type, signed",
    [
        ("v9.20250722", "application/json", False),
        ("v4.20181215", "application/json", False),
        ("v4.20181115", "application/json", True),
        ("v4.20181115", "multipart/form-data", False),
    ],
)
def test_body_is_signed_only_for_ancient_versions(version: str, content_type: str, signed: bool) -> None:
    assert verify.body_is_signed(version, content_type) is signed


# --- JWT -----------------------------------------------------------------------

JWT_SECRET = "C8qnIo29EZvXkPK1Kk9mMFbwDmBFFeNC8e6wkSXN"


def make_jwt(secret: str = JWT_SECRET, algorithm: str = "HS256", **claims: object) -> str:
    now = int(time.time())
    payload: dict[str, object] = {"exp": now + 900, "iat": now, "access_key": "AKIANABBDUSEREXAMPLE", "role": "user"}
    payload.update(claims)
    with warnings.catch_warnings():  # PyJWT warns about short HS512 keys; irrelevant here
        warnings.simplefilter("ignore")
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm=algorithm)


@pytest.mark.parametrize("role", ["user", "admin", "superadmin"])
def test_verify_jwt_accepts(role: str) -> None:
    assert verify.verify_jwt(make_jwt(role=role), JWT_SECRET)["role"] == role


@pytest.mark.parametrize(
    "token",
    [
        make_jwt(exp=int(time.time()) - 10),  # expired
        make_jwt(secret="another-secret-entirely-0123456789"),
        make_jwt(role="monitor"),
        make_jwt(role=None),
        make_jwt(exp=None),
        make_jwt(iat=None),
        make_jwt(algorithm="HS512"),  # only HS256 is configured
        "not.a.jwt",
    ],
)
def test_verify_jwt_rejects(token: str) -> None:
    problem = problem_of(verify.verify_jwt, token, JWT_SECRET)
    assert (problem.status, problem.kind.slug) == (401, "auth-failed")
    assert problem.msg and problem.msg.startswith("JWT validation failed: ")


def test_unverified_access_key() -> None:
    assert (
        verify.unverified_jwt_access_key(make_jwt(secret="some-other-secret-key-of-32-bytes!"))
        == "AKIANABBDUSEREXAMPLE"
    )
    assert problem_of(verify.unverified_jwt_access_key, make_jwt(access_key=None)).status == 401
    assert problem_of(verify.unverified_jwt_access_key, "garbage").status == 401
