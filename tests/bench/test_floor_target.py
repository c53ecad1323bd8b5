"""The floor servers as the harness runs them: they proxy to the fast upstream (the signed one through
its signer process), are seen as their own process kinds, and leave nothing behind."""

import hashlib
import hmac
import json
import urllib.request

import psutil
import pytest

from bench.floor_signer import KEY, answer
from bench.floor_target import FloorServer
from bench.processes import describe
from bench.targets import FastUpstream, login_cookie


@pytest.fixture
def upstream(tmp_path):
    server = FastUpstream(tmp_path / "upstream.log").start()
    yield server
    server.stop()


def test_the_signers_answer_is_the_hmac_of_the_text():
    expected = hmac.new(KEY, b"GET /auth 1", hashlib.sha256).hexdigest()
    assert json.loads(answer(b"GET /auth 1")) == {"signature": expected}


@pytest.mark.parametrize("signed, kinds", [(False, ["floor proxy"]), (True, ["floor proxy", "floor signer"])])
def test_a_floor_server_proxies_to_the_upstream_and_stops(tmp_path, upstream, signed, kinds):
    server = FloorServer(tmp_path, upstream.url, signed=signed)
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
