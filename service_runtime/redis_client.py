"""Redis clients, each logged in as its process's own ACL user."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from contract.config import Config
from contract.host_layout import redis_password_file


def read_redis_password(config: Config, role: str) -> str:
    return redis_password_file(config.secrets_dir, role).read_text().strip()


def redis_client(config: Config, role: str, **options) -> aioredis.Redis:
    """A Redis client logged in as the process's own ACL user.

    It fails fast (two quick retries) during an outage: redis-py's default retries for seconds,
    which would stall every request instead of answering 503.
    """
    host, _, port = config.redis_addr.rpartition(":")
    return aioredis.Redis(
        host=host,
        port=int(port),
        db=config.session.redis.db,
        username=role,
        password=read_redis_password(config, role),
        socket_connect_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=2),
        **options,
    )
