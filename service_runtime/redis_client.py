"""Redis clients, each logged in as its process's own ACL user.

``[session.redis]`` names either one server (``addr``) or Redis Sentinels (``sentinel`` +
``service_name``).  With Sentinels every connection is made to the master they report at that
moment (redis-py's ``redis.asyncio.sentinel``): after a failover, a connection to the demoted master
answers READONLY or is closed by Sentinel, redis-py drops it, and the retry (or the next command)
asks the Sentinels again, so writes never go to a replica and every process, the pub/sub
invalidation channel included, follows the new master within a few seconds.

Passwords: the data connections always log in as the process's role user (``contract.redis_layout``)
with its password file, never with Backend.AI's single ``password``; that one (or
``sentinel_password``) authenticates to the Sentinels only.
"""

from __future__ import annotations

import ssl

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from contract.config import Config
from service_runtime.keyfiles import read_redis_password


def tls_options(config: Config) -> dict:
    """redis-py's TLS keywords for ``[session.redis] use_tls`` (none without it)."""
    redis = config.session.redis
    if config.embeds_redis or not redis.use_tls:
        return {}
    options: dict = {
        "ssl": True,
        "ssl_cert_reqs": ssl.CERT_NONE if redis.tls_skip_verify else ssl.CERT_REQUIRED,
        "ssl_check_hostname": not redis.tls_skip_verify,
    }
    if redis.tls_ca_file is not None:
        options["ssl_ca_certs"] = str(redis.tls_ca_file)
    if redis.tls_cert_file is not None:
        options["ssl_certfile"] = str(redis.tls_cert_file)
        options["ssl_keyfile"] = str(redis.tls_key_file)
    return options


def _connection_options(config: Config, role: str, options: dict) -> dict:
    redis = config.session.redis
    helper = redis.redis_helper_config
    merged = {
        "db": redis.db,
        "username": role,
        "password": read_redis_password(config, role),
        "socket_connect_timeout": helper.socket_connect_timeout,
        "socket_timeout": redis.socket_timeout,
        "health_check_interval": 15,
        # Fails fast (two quick retries) during an outage: redis-py's default retries for seconds,
        # which would stall every request instead of answering 503. A retry after a failover
        # reconnects, so it reaches the new master.
        "retry": Retry(
            ExponentialBackoff(cap=helper.reconnect_poll_timeout, base=0.02),
            retries=2,
            supported_errors=(RedisConnectionError, RedisTimeoutError, ConnectionResetError),
        ),
        **tls_options(config),
    }
    merged.update(options)
    return merged


def redis_client(config: Config, role: str, **options) -> aioredis.Redis:
    """A Redis client logged in as the process's own ACL user: the one server, or Sentinel's master."""
    redis = config.session.redis
    kwargs = _connection_options(config, role, options)
    if not config.embeds_redis and redis.sentinel:
        return sentinel_manager(config).master_for(redis.service_name, redis_class=aioredis.Redis, **kwargs)
    host, _, port = config.redis_addr.rpartition(":")
    return aioredis.Redis(host=host, port=int(port), **kwargs)


def sentinel_manager(config: Config) -> Sentinel:
    """The Sentinels of ``[session.redis] sentinel``, authenticated with sentinel_password or password."""
    redis = config.session.redis
    sentinel_options: dict = {
        "socket_connect_timeout": redis.redis_helper_config.socket_connect_timeout,
        "socket_timeout": 2.0,
        **tls_options(config),
    }
    password = redis.sentinel_password if redis.sentinel_password is not None else redis.password
    if password is not None:
        sentinel_options["password"] = password
    addresses = [(host, int(port)) for host, _, port in (addr.rpartition(":") for addr in redis.sentinel)]
    return Sentinel(addresses, sentinel_kwargs=sentinel_options)
