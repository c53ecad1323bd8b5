"""The fast upstream, in its own process as the harness runs it: what both servers need for a login,
a small JSON for everything else, and a count of what it answered."""

import json
import urllib.request

import psutil
import pytest

from bench.fast_upstream import ACCESS_KEY, SECRET_KEY
from bench.targets import FastUpstream


@pytest.fixture
def upstream(tmp_path):
    server = FastUpstream(tmp_path / "upstream.log").start()
    yield server
    server.stop()


def fetch(url: str, body: dict | None = None, method: str = "GET") -> tuple[int, str, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status, answer.headers["Content-Type"], json.load(answer)


def test_authorize_answers_a_fixed_keypair_for_any_user(upstream):
    credentials = {"type": "keypair", "domain": "default", "username": "anyone@x", "password": "anything"}
    status, _, doc = fetch(f"{upstream.url}/auth/authorize", credentials, "POST")
    assert status == 200
    assert doc["data"] == {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "role": "superadmin", "status": "active"}


def test_the_root_answers_the_managers_version_document(upstream):
    # The original webserver's client SDK reads "version" from it; our probes need any answer below 500.
    status, _, doc = fetch(f"{upstream.url}/")
    assert status == 200
    assert doc["version"].startswith("v7.")


@pytest.mark.parametrize(
    "method, path", [("GET", "/auth?echo=bench"), ("POST", "/session/x/execute"), ("DELETE", "/a")]
)
def test_every_other_request_gets_a_small_json(upstream, method, path):
    status, content_type, doc = fetch(upstream.url + path, {"x": 1} if method == "POST" else None, method)
    assert (status, content_type) == (200, "application/json")
    assert doc == {"ok": True, "from": "fast-upstream"}


def test_answers_are_counted_and_the_count_itself_is_not(upstream):
    start = upstream.wait_quiet()
    for _ in range(3):
        fetch(f"{upstream.url}/auth?echo=bench")
    assert upstream.answered() == start + 3
    assert upstream.answered() == start + 3


def test_stop_leaves_no_process(tmp_path):
    server = FastUpstream(tmp_path / "upstream.log").start()
    process = server.process()
    server.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
