"""Active health probes of every deployment's upstream endpoints (the I/O half of endpoint_pool).

Every ``[api] health_check_interval`` seconds each endpoint gets ``GET <url>/`` (the Manager's:
``GET <url><[api] health_check_probe_path>``, within ``health_check_probe_timeout``): any answer below 500
counts as alive (the Manager answers its version there without credentials; a deployment may answer
404 and still be up).  Results feed the same pool the proxy's passive checks feed.

Probes have a client of their own (``probe_client``): over the proxy's pool a probe could wait for a
connection behind proxied requests (and time out, taking a live endpoint out of use) or take one from
them.  Each worker starts at a random point of the interval and every pause varies by ±``JITTER``, so
the workers of a host (and the hosts) do not probe every upstream at the same instant.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Callable

import aiohttp

from contract.config import Config
from contract.webapi import MANAGER_DEPLOYMENT
from frontdoor.context import FrontDoor
from frontdoor.endpoint_pool import EndpointPool
from service_runtime.instruments import Instruments

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 2.0
JITTER = 0.2
IDLE_RECHECK = (
    5.0  # seconds between looks at a health_check_interval of 0 (passive checks only), which a reload may change
)
CONNECTIONS_PER_ENDPOINT = 4  # a round asks each endpoint once; /readyz checks may ask the Manager meanwhile


def probe_client(config: Config) -> aiohttp.ClientSession:
    """The probes' own client: a small pool per endpoint, apart from proxied traffic."""
    connector = aiohttp.TCPConnector(
        limit=0,  # bounded per endpoint instead: a slow endpoint cannot hold up the probes of the others
        limit_per_host=CONNECTIONS_PER_ENDPOINT,
        ssl=None if config.api.ssl_verify else False,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def next_pause(interval: float, draw: float) -> float:
    """The pause before the next round: ``interval`` ± ``JITTER`` of it, for ``draw`` uniform in [0, 1)."""
    return interval * (1 + JITTER * (2 * draw - 1))


async def probe(http: aiohttp.ClientSession, url: str, timeout: float = PROBE_TIMEOUT, path: str = "/") -> bool:
    try:
        async with http.get(url + path, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
            return answer.status < 500
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


def record(instruments: Instruments, pool: EndpointPool, deployment: str, url: str, alive: bool) -> None:
    """Feed one outcome (probe or proxied request) into the pool, logging and exporting changes."""
    changed = pool.succeeded(url) if alive else pool.failed(url)
    if changed:
        log.warning(
            "upstream endpoint %s",
            "back in use" if alive else "taken out of use",
            extra={"event": "upstream_health", "deployment": deployment, "endpoint": url, "healthy": alive},
        )
    health = pool.endpoints[url]
    if health.exported is not health.healthy:  # a gauge write is an mmap write: only when it changes
        instruments.upstream_healthy.labels(deployment, url).set(1 if health.healthy else 0)
        health.exported = health.healthy


async def probe_forever(front: FrontDoor, draw: Callable[[], float] = random.random) -> None:
    await asyncio.sleep(front.config.api.health_check_interval * draw())  # this worker's own phase
    while True:
        interval = front.config.api.health_check_interval  # reloadable: read every round
        if interval > 0:
            await probe_all(front, min(front.config.api.health_check_probe_timeout, interval))
        await asyncio.sleep(next_pause(interval or IDLE_RECHECK, draw()))


async def probe_all(front: FrontDoor, timeout: float = PROBE_TIMEOUT) -> None:
    checks = []
    for deployment in front.all_deployments():
        pool = front.endpoint_pool(deployment)
        for url in pool.urls:
            # The Manager's probe path is Backend.AI's api.health_check_probe_path; other deployments get "/".
            path = front.config.api.health_check_probe_path if deployment.name == MANAGER_DEPLOYMENT else "/"
            checks.append((deployment.name, pool, url, probe(front.probe_http, url, timeout, path)))
    results = await asyncio.gather(*(check for *_, check in checks))
    for (name, pool, url, _), alive in zip(checks, results):
        record(front.instruments, pool, name, url, alive)
