"""Health of a deployment's upstream endpoints (several Managers behind ``/func``): plain logic, no I/O.

Requests go to healthy endpoints, round robin or to the one with the fewest requests in flight.  An
endpoint turns unhealthy after ``unhealthy_after`` consecutive failures, seen either passively (a
proxied request could not connect) or by the active probe; one success, of either kind, makes it
healthy again.  When no endpoint is healthy every one is tried anyway: a probe that missed must not
turn into a 503 while a Manager may well answer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable

ROUND_ROBIN = "round_robin"
LEAST_CONNECTIONS = "least_connections"


@dataclass
class EndpointHealth:
    url: str
    healthy: bool = True
    failures: int = 0  # consecutive
    in_flight: int = 0
    exported: bool | None = None  # ``healthy`` as the gauge last got it (None: never)

    def to_dict(self) -> dict:
        return {"url": self.url, "healthy": self.healthy, "failures": self.failures, "in_flight": self.in_flight}


class EndpointPool:
    def __init__(self, urls: Iterable[str], policy: str = ROUND_ROBIN, unhealthy_after: int = 2):
        self.endpoints = {url: EndpointHealth(url) for url in urls}
        # The upstreams, fixed for the pool's life (a new list makes a new pool): asked at every request.
        self.urls: tuple[str, ...] = tuple(self.endpoints)
        self._only = self.urls[0] if len(self.urls) == 1 else None
        self._policy = policy
        self._unhealthy_after = unhealthy_after
        self._turn = itertools.count()

    def configure(self, policy: str, unhealthy_after: int) -> None:
        self._policy, self._unhealthy_after = policy, unhealthy_after

    def choose(self, exclude: set[str] = frozenset()) -> str | None:
        """An endpoint to send to, or None when every one was excluded."""
        if self._only is not None and not exclude:  # one upstream (most deployments): it, healthy or not
            return self._only
        left = [e for e in self.endpoints.values() if e.url not in exclude]
        candidates = [e for e in left if e.healthy] or left
        if not candidates:
            return None
        if self._policy == LEAST_CONNECTIONS:
            fewest = min(e.in_flight for e in candidates)
            candidates = [e for e in candidates if e.in_flight == fewest]
        return candidates[next(self._turn) % len(candidates)].url

    def succeeded(self, url: str) -> bool:
        """Record an answer; True when this brought the endpoint back."""
        endpoint = self.endpoints.get(url)
        if endpoint is None:
            return False
        recovered = not endpoint.healthy
        endpoint.failures, endpoint.healthy = 0, True
        return recovered

    def failed(self, url: str) -> bool:
        """Record a failure to connect or answer a probe; True when this made it unhealthy."""
        endpoint = self.endpoints.get(url)
        if endpoint is None:
            return False
        endpoint.failures += 1
        if endpoint.healthy and endpoint.failures >= self._unhealthy_after:
            endpoint.healthy = False
            return True
        return False

    def started(self, url: str) -> None:
        endpoint = self.endpoints.get(url)
        if endpoint is not None:
            endpoint.in_flight += 1

    def finished(self, url: str) -> None:
        endpoint = self.endpoints.get(url)
        if endpoint is not None and endpoint.in_flight > 0:
            endpoint.in_flight -= 1

    def any_healthy(self) -> bool:
        return any(e.healthy for e in self.endpoints.values())

    def view(self) -> list[dict]:
        return [e.to_dict() for e in self.endpoints.values()]
