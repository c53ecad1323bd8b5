"""CSRF decisions, table-driven: who may change state with the user's cookie."""

import pytest

from contract.origins import OriginPolicy
from frontdoor.csrf import csrf_refusal, own_origins

OURS = own_origins("https", "webui.example.com")
ALLOWED = OriginPolicy.from_strings(["https://console.example.com"])


@pytest.mark.parametrize(
    "method, websocket, origin, fetch_site, refused",
    [
        # reading is never refused: the browser will not let another site see the answer (CORS)
        ("GET", False, "https://evil.net", "cross-site", False),
        ("HEAD", False, "https://evil.net", "cross-site", False),
        ("OPTIONS", False, "https://evil.net", "cross-site", False),
        # our own pages, any number of tabs: no token needed
        ("POST", False, "https://webui.example.com", "same-origin", False),
        ("POST", False, "https://webui.example.com", None, False),  # an older browser: Origin only
        ("POST", False, None, "same-origin", False),
        ("DELETE", False, None, "none", False),  # typed or bookmarked
        ("PATCH", False, "https://WEBUI.example.com:443", None, False),
        # an allow-listed origin
        ("POST", False, "https://console.example.com", "cross-site", False),
        ("PUT", False, "https://console.example.com", "same-site", False),
        # non-browser clients (SDK, curl) send neither header
        ("POST", False, None, None, False),
        ("DELETE", False, None, None, False),
        # everything else a browser sends is refused
        ("POST", False, "https://evil.net", "cross-site", True),
        ("POST", False, "https://evil.net", None, True),
        ("PUT", False, "https://webui.example.com.evil.net", None, True),
        ("POST", False, "http://webui.example.com", None, True),  # http page posting to our https site
        ("POST", False, "https://webui.example.com:8443", None, True),
        ("POST", False, "null", None, True),  # sandboxed iframe, data: URL
        ("POST", False, None, "cross-site", True),
        ("POST", False, None, "same-site", True),  # a sibling subdomain is another origin
        ("DELETE", False, "https://evil.net", "cross-site", True),
        ("PATCH", False, "https://evil.net", "cross-site", True),
        # WebSocket handshakes are GETs, but a page anywhere may open one with our cookie
        ("GET", True, "https://evil.net", "cross-site", True),
        ("GET", True, "https://evil.net", None, True),
        ("GET", True, "https://webui.example.com", "same-origin", False),
        ("GET", True, "https://console.example.com", "cross-site", False),
        ("GET", True, None, None, False),
    ],
)
def test_csrf_decision(method, websocket, origin, fetch_site, refused):
    assert (csrf_refusal(method, websocket, origin, fetch_site, OURS, ALLOWED) is not None) is refused


def test_own_origin_behind_a_tls_terminator_and_a_trusted_proxy():
    assert own_origins("http", "webui.example.com") == {"http://webui.example.com", "https://webui.example.com"}
    assert own_origins("https", "webui.example.com") == {"https://webui.example.com"}
    assert own_origins("http", "10.0.0.5:8090", "https", "webui.example.com") == {
        "http://10.0.0.5:8090",
        "https://10.0.0.5:8090",
        "https://webui.example.com",
    }
    assert own_origins("http", None) == frozenset()
    assert own_origins("http", "bad host\r\n") == frozenset()
