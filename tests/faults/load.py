"""Bounded, open-loop load on loopback for the fault-injection suite: a steady rate of signed calls
(each on its own task, so a stalled answer does not slow the rest) and a one-line summary."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from tests.support.stack import ADMIN_USER

REQUEST_TIMEOUT = 15.0  # above pool_wait (10 s): a hang shows up as a failure, never as a stuck suite
# A fault that makes nothing wait: far above any answer's own time, even on a loaded 2-vCPU host.
NO_WAIT = 2.0
REFUSED = "ClientConnectorError"  # nothing listens: the kernel refused the connection


@dataclass
class Outcome:
    results: list[tuple[int | str, float]] = field(default_factory=list)  # (status or error, seconds)
    # Answers the scenario's fault is expected to cause (a fast 503 while Redis is away, a 502 while
    # the Manager is): counted apart, and each must be fast (``slowest_expected``).
    expected: frozenset[int | str] = frozenset()
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() each request was sent, as results

    def count_sent_before(self, moment: float, *wanted) -> int:
        """Answers among ``wanted`` to requests sent before ``moment`` (a ``time.monotonic()``)."""
        return sum(1 for (result, _), sent in zip(self.results, self.sent_at) if sent < moment and result in wanted)

    @property
    def sent(self) -> int:
        return len(self.results)

    def count(self, *wanted) -> int:
        return sum(1 for result, _ in self.results if result in wanted)

    @property
    def ok(self) -> int:
        return self.count(200)

    @property
    def expected_failures(self) -> int:
        return self.count(*self.expected)

    @property
    def failed(self) -> int:
        """Neither 200 nor an answer the fault is expected to cause."""
        return self.sent - self.ok - self.expected_failures

    def percentile(self, fraction: float) -> float:
        ordered = sorted(seconds for _, seconds in self.results)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0

    def slowest_expected(self) -> float:
        return max((seconds for result, seconds in self.results if result in self.expected), default=0.0)

    def kinds(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for result, _ in self.results:
            found[str(result)] = found.get(str(result), 0) + 1
        return found

    def not_ok(self) -> str:
        """Each answer other than 200 with its count and the range of its latencies."""
        spans: dict[str, list[float]] = {}
        for result, seconds in self.results:
            if result != 200:
                spans.setdefault(str(result), []).append(seconds)
        return ", ".join(
            f"{kind} x{len(times)} in {1000 * min(times):.0f}-{1000 * max(times):.0f} ms"
            for kind, times in sorted(spans.items())
        )

    def line(self, name: str) -> str:
        expected = f" {sorted(map(str, self.expected))}" if self.expected else ""
        not_ok = f" ({self.not_ok()})" if self.ok < self.sent else ""
        return (
            f"{name}: sent {self.sent}, ok {self.ok}, failed {self.failed}, "
            f"expected fast failures {self.expected_failures}{expected}, "
            f"p50 {1000 * self.percentile(0.5):.0f} ms, p99 {1000 * self.percentile(0.99):.0f} ms, "
            f"max {1000 * self.percentile(1.0):.0f} ms{not_ok}"
        )

    def assert_held(self, slowest: float, fast: float | None = None, minimum: int = 100) -> None:
        """No failure but the expected ones; no answer slower than ``slowest`` seconds and no
        expected failure slower than ``fast``."""
        assert self.sent >= minimum, f"only {self.sent} requests sent"
        assert self.failed == 0, self.kinds()
        assert self.percentile(1.0) < slowest, f"max {self.percentile(1.0):.2f} s >= {slowest} s"
        if fast is not None:
            assert self.slowest_expected() < fast, f"an expected failure took {self.slowest_expected():.2f} s"


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


async def signs(session: aiohttp.ClientSession) -> bool:
    """One signed call succeeds (the session is still known)."""
    try:
        async with session.get("/func/auth?echo=kept") as answer:
            return answer.status == 200
    except aiohttp.ClientError:
        return False


async def under_load(
    session: aiohttp.ClientSession,
    fault,
    rate: float = 100.0,
    before: float = 0.5,
    after: float = 1.5,
    expected: tuple[int | str, ...] = (),
) -> Outcome:
    """Requests at ``rate`` per second from ``before`` seconds ahead of ``fault()`` (run in a thread)
    until ``after`` seconds after it returned."""
    outcome = Outcome(expected=frozenset(expected))
    stop = asyncio.Event()

    async def one(n: int) -> None:
        sent = time.monotonic()
        started = time.perf_counter()
        try:
            async with session.get(f"/func/auth?echo=f{n}") as answer:
                await answer.read()
                result: int | str = answer.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            result = type(exc).__name__
        outcome.results.append((result, time.perf_counter() - started))
        outcome.sent_at.append(sent)

    async def generate() -> None:
        tasks, started, n = [], time.monotonic(), 0
        while not stop.is_set():
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(n)))
            n += 1
        await asyncio.gather(*tasks)

    generator = asyncio.create_task(generate())
    await asyncio.sleep(before)
    try:
        await asyncio.to_thread(fault)
        await asyncio.sleep(after)
    finally:
        stop.set()
        await generator
    return outcome
