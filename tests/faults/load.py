"""Bounded, open-loop load on loopback for the fault-injection suite: a steady rate of signed calls
(each on its own task, so a stalled answer does not slow the rest) and a one-line summary."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from tests.support.stack import ADMIN_USER

REQUEST_TIMEOUT = 10.0  # a hang shows up as a failure, never as a stuck suite


@dataclass
class Outcome:
    results: list[tuple[int | str, float]] = field(default_factory=list)  # (status or error, seconds)

    @property
    def sent(self) -> int:
        return len(self.results)

    def count(self, *wanted) -> int:
        return sum(1 for result, _ in self.results if result in wanted)

    @property
    def failed(self) -> int:
        """Anything but 200 (a fast 503 is counted separately by the scenarios that expect it)."""
        return sum(1 for result, _ in self.results if result != 200)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(seconds for _, seconds in self.results)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0

    def kinds(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for result, _ in self.results:
            found[str(result)] = found.get(str(result), 0) + 1
        return found

    def line(self, name: str) -> str:
        return (
            f"{name}: sent {self.sent}, failed {self.failed}, p99 {1000 * self.percentile(0.99):.0f} ms, "
            f"max {1000 * self.percentile(1.0):.0f} ms, answers {self.kinds()}"
        )


async def logged_in(base_url: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        base_url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    )
    async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
        assert answer.status == 200, await answer.text()
    return session


async def under_load(
    session: aiohttp.ClientSession, fault, rate: float = 100.0, before: float = 0.5, after: float = 1.5
) -> Outcome:
    """Requests at ``rate`` per second from ``before`` seconds ahead of ``fault()`` (run in a thread)
    until ``after`` seconds after it returned."""
    outcome = Outcome()
    stop = asyncio.Event()

    async def one(n: int) -> None:
        started = time.perf_counter()
        try:
            async with session.get(f"/func/auth?echo=f{n}") as answer:
                await answer.read()
                result: int | str = answer.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            result = type(exc).__name__
        outcome.results.append((result, time.perf_counter() - started))

    async def generate() -> None:
        tasks, started, n = [], time.monotonic(), 0
        while not stop.is_set():
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(n)))
            n += 1
        await asyncio.gather(*tasks)

    generator = asyncio.create_task(generate())
    await asyncio.sleep(before)
    await asyncio.to_thread(fault)
    await asyncio.sleep(after)
    stop.set()
    await generator
    return outcome
