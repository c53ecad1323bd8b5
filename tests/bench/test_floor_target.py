"""The floor servers as the harness runs them: they proxy to the fast upstream (the signed one through
its signer process), are seen as their own process kinds, and leave nothing behind."""

import hashlib
import hmac
import json
import socket
import urllib.request

import psutil
import pytest

from bench.floor_signer import KEY, answer
from bench.floor_target import FloorServer
from bench.processes import connections_per_process, describe
from bench.targets import FastUpstream, login_cookie
from tests.support.polling import eventually_sync


@pytest.fixture
def upstream(tmp_path):
    server = FastUpstream(tmp_path / "upstream.log").start()
    yield server
    server.stop()


def test_the_signers_answer_is_the_hmac_of_the_text():
    expected = hmac.new(KEY, b"GET /auth 1", hashlib.sha256).hexdigest()
    assert json.loads(answer(b"GET /auth 1")) == {"signature": expected}


@pytest.mark.parametrize(
    "proxies, signers, kinds",
    [
        (1, 0, ["floor proxy"]),
        (1, 1, ["floor proxy", "floor signer"]),
        (2, 2, ["floor proxy", "floor proxy", "floor signer", "floor signer"]),
    ],
)
def test_a_floor_server_proxies_to_the_upstream_and_stops(tmp_path, upstream, proxies, signers, kinds):
    server = FloorServer(tmp_path, upstream.url, proxies, signers)
    try:
        assert server.start() > 0
        members = server.processes()
        assert sorted(describe(members).values()) == kinds
        cookie = login_cookie(server.base_url)
        before = upstream.wait_quiet()
        request = urllib.request.Request(f"{server.base_url}/func/auth?echo=floor", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert (reply.status, json.load(reply)) == (200, {"ok": True, "from": "fast-upstream"})
        assert upstream.wait_quiet() == before + 1
    finally:
        server.stop()
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in members)


def test_the_two_floor_proxies_share_the_port(tmp_path, upstream):
    """floor-signed-2x2 is the defaults' shape only if both proxies take connections (SO_REUSEPORT):
    of 16 connections, the kernel gives each some (all on one: 2 in 65,536)."""
    server = FloorServer(tmp_path, upstream.url, 2, 2)
    clients = []
    try:
        server.start()
        members = server.processes()
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
        kinds = describe(members)

        def both_hold_some():
            held = connections_per_process(members, kinds, server.port)
            return len(held) == 2 and sum(held) == 16 and min(held) > 0

        eventually_sync(both_hold_some, timeout=10, interval=0.05, what="both floor proxies holding connections")
    finally:
        for client in clients:
            client.close()
        server.stop()
