"""What a page asked of the server and when: the evidence a browser test prints when a page never
reaches the state it waits for (which requests were answered, how, how fast, and which were not).

The bookkeeping is plain (``started`` / ``answered`` / ``failed`` take what Playwright reports), so it
is tested without a browser; ``RequestTimeline.follow(page)`` wires it to a Playwright page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

# Static files say little about a stall and crowd the report; their failures are still listed.
QUIET_PREFIXES = ("/assets/", "/resources/", "/manifest/", "/static/")


@dataclass
class Exchange:
    method: str
    path: str
    started: float  # seconds since the timeline began
    status: int | None = None
    took_ms: float | None = None
    failure: str | None = None


@dataclass
class RequestTimeline:
    base_url: str
    clock: Callable[[], float] = time.monotonic
    exchanges: list[Exchange] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    _open: dict[object, Exchange] = field(default_factory=dict)
    _statuses: dict[object, int] = field(default_factory=dict)
    _begun: float | None = None

    def now(self) -> float:
        if self._begun is None:
            self._begun = self.clock()
        return self.clock() - self._begun

    def _path(self, url: str) -> str:
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    def mark(self, what: str) -> None:
        self.marks.append((self.now(), what))

    def started(self, key: object, method: str, url: str) -> None:
        exchange = Exchange(method, self._path(url), self.now())
        self.exchanges.append(exchange)
        self._open[key] = exchange

    def answered(self, key: object, status: int, took_ms: float | None = None) -> None:
        exchange = self._open.pop(key, None)
        if exchange is not None:
            exchange.status = status
            exchange.took_ms = took_ms if took_ms is not None else (self.now() - exchange.started) * 1000

    def failed(self, key: object, failure: str) -> None:
        exchange = self._open.pop(key, None)
        if exchange is not None:
            exchange.failure = failure or "failed"
            exchange.took_ms = (self.now() - exchange.started) * 1000

    def pending(self) -> list[Exchange]:
        return list(self._open.values())

    def report(self, since: float = 0.0) -> str:
        """In time order: the marks, each exchange begun after ``since`` but the quiet static
        successes, and the unanswered ones with their age (what a stalled page waits on); then the
        console's errors."""
        now = self.now()
        timed = [(at, f"{at:7.2f}s  -- {what}") for at, what in self.marks]
        for exchange in self.exchanges:
            unanswered = exchange.status is None and exchange.failure is None
            if (exchange.started >= since or unanswered) and not self._quiet(exchange):
                timed.append((exchange.started, self._line(exchange, now)))
        lines = [line for _, line in sorted(timed, key=lambda pair: pair[0])]
        return "\n".join(lines + [f"console error: {text}" for text in self.console_errors])

    @staticmethod
    def _quiet(exchange: Exchange) -> bool:
        answered_fine = exchange.status is not None and exchange.status < 400 and exchange.failure is None
        return answered_fine and exchange.path.startswith(QUIET_PREFIXES)

    def _line(self, exchange: Exchange, now: float) -> str:
        head = f"{exchange.started:7.2f}s  {exchange.method} {exchange.path} ->"
        if exchange.status is None and exchange.failure is None:
            return f"{head} NO ANSWER after {(now - exchange.started) * 1000:.0f} ms"
        return f"{head} {exchange.failure or exchange.status} in {exchange.took_ms:.0f} ms"

    def follow(self, page) -> RequestTimeline:
        """Record ``page``'s requests (answered when their body has arrived) and console errors."""
        self.now()
        page.on("request", lambda r: self.started(r, r.method, r.url))
        page.on("response", lambda r: self._statuses.__setitem__(r.request, r.status))
        page.on("requestfinished", self._finished)
        page.on("requestfailed", lambda r: self.failed(r, r.failure))
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        return self

    def _finished(self, request) -> None:
        end = request.timing.get("responseEnd", -1)  # ms from the request's start, as Chromium measured
        self.answered(request, self._statuses.pop(request, 0), end if end >= 0 else None)
