"""Active health probes of every deployment's upstream endpoints (the I/O half of endpoint_pool).

Every ``[api] health_check_interval`` seconds each endpoint gets ``GET <url>/`` (the Manager's:
``GET <url><[api] health_check_probe_path>``, within ``health_check_probe_timeout``): any answer below 500
counts as alive (the Manager answers its version there without credentials; a deployment may answer
404 and still be up).  Results feed the same pool the proxy's passive checks feed.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from contract.webapi import MANAGER_DEPLOYMENT
from frontdoor.context import FrontDoor
from frontdoor.endpoint_pool import EndpointPool
from service_runtime.instruments import Instruments

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 2.0


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
    instruments.upstream_healthy.labels(deployment, url).set(1 if pool.endpoints[url].healthy else 0)


async def probe_forever(front: FrontDoor) -> None:
    while True:
        interval = front.config.api.health_check_interval
        if interval > 0:
            await probe_all(front, min(front.config.api.health_check_probe_timeout, interval))
        await asyncio.sleep(interval or 5.0)


async def probe_all(front: FrontDoor, timeout: float = PROBE_TIMEOUT) -> None:
    checks = []
    for deployment in front.all_deployments():
        pool = front.endpoint_pool(deployment)
        for url in pool.urls:
            # The Manager's probe path is Backend.AI's api.health_check_probe_path; other deployments get "/".
            path = front.config.api.health_check_probe_path if deployment.name == MANAGER_DEPLOYMENT else "/"
            checks.append((deployment.name, pool, url, probe(front.http, url, timeout, path)))
    results = await asyncio.gather(*(check for *_, check in checks))
    for (name, pool, url, _), alive in zip(checks, results):
        record(front.instruments, pool, name, url, alive)
