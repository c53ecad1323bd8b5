"""The worker's app as ``build_app`` assembles it, without serving it: what holds for all of its routes."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import aiohttp
from aiohttp import web

from contract.config import parse_config
from frontdoor.app import build_app
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from service_runtime.settings import Settings
from tests.support.ports import free_port


async def test_building_the_app_warns_of_nothing():
    """No deprecated route: aiohttp wraps a bare (non-async) handler with a DeprecationWarning, and its
    4.x refuses one."""
    directory = Path(tempfile.mkdtemp(prefix="app-", dir="/tmp"))
    ensure_secrets(directory / "secrets")
    upstream = f"http://127.0.0.1:{free_port()}"  # nothing listens: nothing is sent
    config = parse_config(
        {
            "api": {"endpoint": [upstream]},
            "session": {"redis": {"addr": f"127.0.0.1:{free_port()}"}},
            "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(directory / "secrets")},
            "zmq": {"ipc_dir": str(directory / "ipc")},
        }
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            app = build_app(Settings(config, [upstream]), Instruments())
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            async with aiohttp.ClientSession() as browser:  # the route that was a bare function
                async with browser.get(f"http://127.0.0.1:{port}/ui", allow_redirects=False) as answer:
                    assert (answer.status, answer.headers["Location"]) == (303, "/ui/")
        finally:
            await runner.cleanup()
        assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
    finally:
        shutil.rmtree(directory, ignore_errors=True)
