"""A real redis-server with the production ACL users, one per test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_runtime.keyfiles import ensure_secrets
from tests.support.servers import start_redis


@pytest.fixture(scope="module")
def redis_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secrets_dir = tmp_path_factory.mktemp("secrets") / "secrets"
    ensure_secrets(secrets_dir)
    return secrets_dir


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory, redis_secrets: Path):
    handle = start_redis(tmp_path_factory.mktemp("redis"), redis_secrets)
    yield handle
    handle.stop()
