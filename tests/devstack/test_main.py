"""The stand-in's command line (devstack.__main__): it serves and logs JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually
from tests.support.ports import free_port

pytestmark = pytest.mark.asyncio


async def test_cli_serves_and_logs_json_lines() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with aiohttp.ClientSession() as session:

            async def answers() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        assert response.status == 200
                        return True
                except aiohttp.ClientConnectionError:
                    return False

            await eventually(answers, timeout=10, interval=0.05, what="the devstack CLI serving")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"method": "GET", "path": "/", "status": 200}.items() <= records[-1].items()
    assert "Authorization" not in stderr
