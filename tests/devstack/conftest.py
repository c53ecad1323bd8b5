"""The Manager stand-in served on loopback for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from devstack.app import create_app


@pytest_asyncio.fixture
async def client(request) -> AsyncIterator[TestClient]:
    """A test module may set ``APP_OPTIONS`` (keywords of ``create_app``)."""
    options = getattr(request.module, "APP_OPTIONS", {})
    async with TestClient(TestServer(create_app(**options))) as test_client:
        yield test_client
