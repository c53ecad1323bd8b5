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
from bench.processes import describe
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
    """floor-signed-2x2 is the defaults' shape only if both proxies listen on the one port
    (SO_REUSEPORT) once started, and take connections: of 16, the kernel gives each some (all to one:
    2 in 65,536).  A start that waited for the first answer alone, which either proxy may give, let
    the measurement begin while the other was not listening yet (16 to 0 in 5 of 10 starts)."""
    server = FloorServer(tmp_path, upstream.url, 2, 2)
    clients = []
    try:
        server.start()
        proxies = [p for p, kind in describe(server.processes()).items() if kind == "floor proxy"]
        assert len(proxies) == 2 and all(server.port in _listening_ports(pid) for pid in proxies)
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(16)]
        ours = {client.getsockname()[1] for client in clients}

        def accepted_by_both():
            held = [_peer_ports(pid, server.port) & ours for pid in proxies]
            return held[0] | held[1] == ours and all(held)

        assert eventually_sync(accepted_by_both, timeout=10, what="the connections split over both proxies")
    finally:
        for client in clients:
            client.close()
        server.stop()


def _listening_ports(pid: int) -> set[int]:
    held = psutil.Process(pid).net_connections(kind="tcp")
    return {c.laddr.port for c in held if c.status == psutil.CONN_LISTEN}


def _peer_ports(pid: int, port: int) -> set[int]:
    """The client ports of the connections process ``pid`` accepted on ``port``."""
    held = psutil.Process(pid).net_connections(kind="tcp")
    return {c.raddr.port for c in held if c.laddr and c.laddr.port == port and c.raddr}
