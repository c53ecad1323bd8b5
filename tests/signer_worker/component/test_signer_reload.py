"""A reload reaches what the signer copied at start: its Redis lookup timeout follows
``[signers] request_timeout`` (half of it), through the real reload path (file and etcd re-read,
``apply_reload``, the hooks the signer registered), with a real redis-server that stops answering."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from contract.host_layout import ZMQ_KEY_FILE
from contract.requests import STORE_UNAVAILABLE
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets, load_shared_key
from service_runtime.reload import reload_from_file
from service_runtime.settings import load_settings
from signer_worker.service import SignerService
from tests.signer_worker.component.test_signer_component import Channel
from tests.support.freezing import freeze
from tests.support.polling import eventually
from tests.support.servers import start_etcd, start_redis

UNKNOWN_SESSION = "reload-session-0123456789abcdef0123456789abcdef"  # never cached: each ask reads Redis


def _config_text(directory: Path, redis_addr: str, etcd_addr: str, request_timeout: float) -> str:
    return f"""
[api]
endpoint = "http://127.0.0.1:9"
[session.redis]
addr = "{redis_addr}"
[etcd]
addr = "{etcd_addr}"
[runtime]
state_dir = "{directory / "state"}"
secrets_dir = "{directory / "secrets"}"
[zmq]
ipc_dir = "{directory / "ipc"}"
[signers]
request_timeout = {request_timeout}
"""


@pytest.fixture
async def reloadable_signer():
    directory = Path(tempfile.mkdtemp(prefix="sgr-", dir="/tmp"))  # ipc paths must stay short
    ensure_secrets(directory / "secrets")
    redis_handle = start_redis(directory, directory / "secrets")
    etcd = start_etcd(directory)
    path = directory / "webui-host.toml"
    rewrite = lambda seconds: path.write_text(_config_text(directory, redis_handle.addr, etcd.addr, seconds))  # noqa: E731
    rewrite(3.0)  # a lookup gives up after 1.5 s: below the client's 2 s socket timeout
    settings = await load_settings(path)
    hooks = []
    service = SignerService(settings, "agent-r1", "DEFAULT", instruments=Instruments(), on_reload=hooks.append)
    await service.start()
    channel = None
    try:
        await eventually(lambda: service._bound, timeout=20, what="signer bound")
        config = settings.config
        channel = Channel(
            service.endpoint, load_shared_key(config.secrets_dir / ZMQ_KEY_FILE), config.zmq.max_message_age
        )

        async def reload(seconds: float):
            rewrite(seconds)
            return await reload_from_file("signer_worker", path, config, hooks)

        yield channel, redis_handle, reload
    finally:
        if channel is not None:
            channel.close()
        redis_handle.process.send_signal(signal.SIGCONT)
        await service.stop()
        redis_handle.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _seconds_to_store_unavailable(channel: Channel) -> float:
    started = time.monotonic()
    reply = await channel.sign(
        session_id=UNKNOWN_SESSION,
        method="GET",
        target="/func/",
        host="127.0.0.1:9",
        content_type="application/json",
        api_version="v8.20240915",
    )
    assert reply.error == STORE_UNAVAILABLE, reply.error
    return time.monotonic() - started


async def test_a_reload_of_request_timeout_reaches_the_redis_lookup_timeout(reloadable_signer):
    channel, redis_handle, reload = reloadable_signer
    freeze(redis_handle.process.pid)  # Redis accepts, and never answers
    assert await _seconds_to_store_unavailable(channel) >= 1.4  # the started value: 3.0 / 2
    result = await reload(0.4)
    assert result is not None and "signers.request_timeout" in result.changed
    assert await _seconds_to_store_unavailable(channel) < 0.8  # 0.4 / 2, not the started 1.5
