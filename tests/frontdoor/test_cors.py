"""CORS headers as plain functions: allow-listed origins only, never an echo of any other."""

import pytest
from multidict import CIMultiDict

from contract.origins import OriginPolicy
from frontdoor.cors import ALLOWED_HEADERS, EXPOSED_HEADERS, apply_cors, is_preflight, preflight_headers

POLICY = OriginPolicy.from_strings(["https://console.example.com", "https://*.apps.example.com"])


@pytest.mark.parametrize(
    "method, headers, expected",
    [
        ("OPTIONS", {"Origin": "https://x", "Access-Control-Request-Method": "POST"}, True),
        ("OPTIONS", {"Origin": "https://x"}, False),  # a plain OPTIONS request, for the Manager
        ("OPTIONS", {"Access-Control-Request-Method": "POST"}, False),
        ("POST", {"Origin": "https://x", "Access-Control-Request-Method": "POST"}, False),
    ],
)
def test_what_a_preflight_is(method, headers, expected):
    assert is_preflight(method, CIMultiDict(headers)) is expected


def test_preflight_from_a_listed_origin_names_methods_headers_and_max_age():
    headers = preflight_headers(POLICY, "https://a.apps.example.com", 600)
    assert headers["Access-Control-Allow-Origin"] == "https://a.apps.example.com"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) >= {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert "X-BackendAI-Version" in headers["Access-Control-Allow-Headers"].split(", ")
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize("origin", ["https://evil.net", "null", None, "https://apps.example.com", "*"])
def test_preflight_from_anywhere_else_gets_nothing(origin):
    assert preflight_headers(POLICY, origin, 600) is None


def test_allowed_headers_are_a_fixed_list():
    assert "Cookie" not in ALLOWED_HEADERS and "Authorization" not in ALLOWED_HEADERS
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Window", "Retry-After"} <= set(EXPOSED_HEADERS)


def test_listed_origin_gets_credentials_and_exposed_rate_limit_headers():
    headers = CIMultiDict({"Content-Type": "application/json"})
    apply_cors(headers, POLICY, "https://console.example.com")
    assert headers["Access-Control-Allow-Origin"] == "https://console.example.com"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-RateLimit-Remaining" in headers["Access-Control-Expose-Headers"]
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize("origin", ["https://evil.net", "null", None, "https://console.example.com.evil.net"])
def test_unlisted_origin_gets_no_cors_header_even_if_the_manager_sent_some(origin):
    # What aiohttp-cors in the Manager (or the original webserver) would send: the Origin reflected.
    headers = CIMultiDict(
        {
            "Access-Control-Allow-Origin": origin or "*",
            "access-control-allow-credentials": "true",
            "Access-Control-Expose-Headers": "*",
            "Vary": "Accept-Encoding",
        }
    )
    apply_cors(headers, POLICY, origin)
    assert not [name for name in headers if name.lower().startswith("access-control-")]
    assert headers["Vary"] == "Accept-Encoding, Origin"


def test_vary_is_not_duplicated():
    headers = CIMultiDict({"Vary": "origin"})
    apply_cors(headers, POLICY, None)
    assert headers.getall("Vary") == ["origin"]


@pytest.mark.parametrize(
    "names",
    [
        ["ACCESS-CONTROL-ALLOW-ORIGIN"],
        ["Access-Control-Expose-Headers", "Content-Type"],
        ["access-control-max-age", "X-A", "aCCESS-cONTROL-aLLOW-cREDENTIALS"],
        ["Content-Type", "X-Access-Control-Note", "Access-Controls"],
        [],
    ],
)
def test_every_upstream_access_control_header_goes_whatever_its_case(names):
    headers = CIMultiDict((name, "v") for name in names)
    apply_cors(headers, OriginPolicy.from_strings([]), None)
    kept = [name for name in names if not name.lower().startswith("access-control-")]
    assert list(headers) == [*kept, "Vary"]
