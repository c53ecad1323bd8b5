"""trusted_proxies: addresses and CIDR networks, validated at load, matched per request.

Before, entries were compared as strings: a CIDR passed check-config and matched no peer, so behind an
ingress every browser had the ingress's address (one shared login rate limit) and the session cookie
never got Secure although the browser spoke HTTPS to the ingress.
"""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from contract.config import ConfigError, parse_config
from frontdoor.context import FrontDoor
from frontdoor.trusted_proxies import TrustedProxies
from frontdoor.upstream import client_address
from service_runtime.instruments import Instruments


def _config(entries):
    return parse_config({"service": {"trusted_proxies": entries}})


@pytest.mark.parametrize(
    "entries, peer, xff, expected",
    [
        (["10.0.0.0/8"], "10.1.2.3", "1.2.3.4", "1.2.3.4"),  # an ingress pod inside the network
        (["10.0.0.0/8"], "11.0.0.1", "1.2.3.4", "11.0.0.1"),  # outside it: the header is not believed
        (["10.0.0.1"], "10.0.0.1", "1.2.3.4", "1.2.3.4"),  # a single address still works
        (["10.0.0.1"], "10.0.0.2", "1.2.3.4", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.1", "6.6.6.6, 1.2.3.4, 10.9.9.9", "1.2.3.4"),  # right-most not ours
        (["10.0.0.0/8"], "10.0.0.1", "10.0.0.7", "10.0.0.1"),  # every hop ours: the peer
        (["10.1.2.3/8"], "10.200.0.1", "1.2.3.4", "1.2.3.4"),  # host bits set: the network around it
        (["fd00::/8"], "fd00::1", "2001:db8::5", "2001:db8::5"),
        (["10.0.0.0/8"], "::ffff:10.0.0.1", "1.2.3.4", "1.2.3.4"),  # IPv4-mapped peer of a dual-stack socket
        (["10.0.0.0/8"], "10.0.0.1", "ingress.local", "10.0.0.1"),  # a name is never an address
        (["192.0.2.0/24"], "192.0.2.200", "1.2.3.4", "1.2.3.4"),
        (["fd00::/8"], "10.0.0.1", "1.2.3.4", "10.0.0.1"),  # families do not mix
        ([], "10.0.0.1", "1.2.3.4", "10.0.0.1"),
    ],
)
def test_client_address_with_networks(entries, peer, xff, expected):
    config = _config(entries)
    assert client_address(peer, xff, TrustedProxies(config.service.trusted_proxies)) == expected


@pytest.mark.parametrize(
    "entries, named",
    [
        (["10.0.0.0/33"], "10.0.0.0/33"),
        (["ingress.example"], "ingress.example"),
        (["10.0.0.1", "garbage"], "garbage"),
        ("10.0.0.0/8, 300.1.1.1", "300.1.1.1"),  # the comma-separated form too
        (["fd00::/129"], "fd00::/129"),
    ],
)
def test_garbage_is_refused_at_load_by_name(entries, named):
    with pytest.raises(ConfigError) as caught:
        _config(entries)
    assert any("trusted_proxies" in p and named in p for p in caught.value.problems), caught.value.problems


def _request(peer: str, headers: dict[str, str]) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 40000) if name == "peername" else default
    return make_mocked_request("POST", "/server/login", headers=headers, transport=transport)


@pytest.mark.parametrize(
    "entries, peer, proto, secure",
    [
        (["10.0.0.0/8"], "10.0.0.5", "https", True),  # TLS ended at a trusted ingress
        (["10.0.0.0/8"], "10.0.0.5", "HTTPS", True),
        (["10.0.0.0/8"], "10.0.0.5", "https, http", True),  # the first hop is the browser's
        (["10.0.0.0/8"], "10.0.0.5", "http", False),
        (["10.0.0.0/8"], "10.0.0.5", None, False),
        (["10.0.0.0/8"], "192.0.2.1", "https", False),  # anyone can send the header: not believed
        ([], "10.0.0.5", "https", False),
    ],
)
def test_session_cookie_secure_behind_a_tls_proxy(entries, peer, proto, secure):
    config = _config(entries)
    front = FrontDoor(
        config=config,
        manager_endpoints=[],
        sessions=None,
        signers=None,
        daemon=None,
        http=None,
        probe_http=None,
        instruments=Instruments(),
        trusted_proxies=TrustedProxies(config.service.trusted_proxies),
    )
    request = _request(peer, {"X-Forwarded-Proto": proto} if proto else {})
    response = web.Response()
    front.set_session_cookie(request, response, "sid")
    morsel = response.cookies[config.session.cookie_name]
    assert bool(morsel["secure"]) is secure
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
