"""What the browser gets when the Manager's answer is wrong, through the whole front door (``build_app``
in process, a real redis-server and etcd) against a real TCP server that writes crafted bytes:
``GET /func/`` (the Manager's public version, not signed) goes through the lean client."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from contract.config import parse_config
from frontdoor.app import build_app
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from service_runtime.settings import Settings
from tests.support.crafted_http import CLOSE, HANG, AndClose, CraftedServer
from tests.support.front_door_config import NO_PROBES
from tests.support.ports import free_port
from tests.support.servers import start_etcd, start_redis

VERSION = b'{"version": "v7.20230615"}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(VERSION), VERSION)


@pytest.fixture
async def front_door_to(request):
    """A front door whose Manager is a ``CraftedServer`` with the answers the test's parameter gives."""
    directory = Path(tempfile.mkdtemp(prefix="fdu-", dir="/tmp"))  # ipc paths must stay short
    secrets_dir = directory / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle = start_redis(directory, secrets_dir)
    etcd = start_etcd(directory)
    runner = None
    answers, api = request.param if isinstance(request.param, tuple) else (request.param, {})
    try:
        async with CraftedServer(answers) as manager:
            config = parse_config(
                {
                    "api": {"endpoint": [manager.url], **NO_PROBES, **api},
                    "session": {"redis": {"addr": redis_handle.addr}},
                    "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
                    "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(secrets_dir)},
                    "zmq": {"ipc_dir": str(directory / "ipc")},
                }
            )
            runner = web.AppRunner(build_app(Settings(config, [manager.url]), Instruments()))
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield f"http://127.0.0.1:{port}", manager
    finally:
        if runner is not None:
            await runner.cleanup()
        redis_handle.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _get_version(base_url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as browser:
        async with browser.get(base_url + "/func/") as response:
            return response.status, response.content_type, await response.read()


BROKEN = {
    "a small answer cut short": b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"version"',
    "both Content-Length and Transfer-Encoding": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n4\r\n{}{}\r\n0\r\n\r\n",
}


@pytest.mark.parametrize(
    "front_door_to", [[AndClose(answer)] for answer in BROKEN.values()], ids=BROKEN.keys(), indirect=True
)
async def test_a_broken_answer_the_browser_has_not_seen_yet_is_a_502_problem(front_door_to):
    base_url, _manager = front_door_to
    status, content_type, body = await _get_version(base_url)
    assert (status, content_type) == (502, "application/problem+json"), body


@pytest.mark.parametrize("front_door_to", [[OK, CLOSE, OK]], indirect=True)
async def test_a_kept_alive_connection_the_manager_closed_costs_no_request(front_door_to):
    base_url, manager = front_door_to
    assert await _get_version(base_url) == (200, "application/json", VERSION)
    assert await _get_version(base_url) == (200, "application/json", VERSION)  # sent again, on a new connection
    assert manager.connections == 2


# The Manager's answer breaks off after its head and a first chunk went out to the browser.
CUT_CHUNKED = AndClose(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
)


@pytest.mark.parametrize("front_door_to", [[CUT_CHUNKED]], indirect=True)
async def test_an_answer_that_breaks_off_after_the_browser_saw_its_head_fails_in_the_browser(front_door_to):
    """Not a truncated body that looks whole: the browser's read fails (its connection is cut)."""
    base_url, _manager = front_door_to
    async with aiohttp.ClientSession() as browser:
        async with browser.get(base_url + "/func/") as response:
            assert response.status == 200  # the head was relayed before the upstream broke off
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


@pytest.mark.parametrize("front_door_to", [([HANG], {"response_timeout": 0.3})], indirect=True)
async def test_a_manager_that_does_not_answer_in_time_is_a_504_problem(front_door_to):
    """The lean client's deadline (a timer on the connection since the sixth perf slice) answers for the
    Manager: a 504 problem at ``response_timeout``, and the late connection is not used again."""
    base_url, manager = front_door_to
    started = time.monotonic()
    status, content_type, _body = await _get_version(base_url)
    assert (status, content_type) == (504, "application/problem+json")
    assert 0.25 < time.monotonic() - started < 5
    assert await _get_version(base_url) == (200, "application/octet-stream", b"ok")  # CraftedServer's DEFAULT
    assert manager.connections == 2
