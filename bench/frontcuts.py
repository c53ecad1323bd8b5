"""Interleaved micro-benchmarks of the eighth session's front-door cuts (``frontcuts``), old against new.

Each item times the code a proxied request runs before the change (kept here as it was, or main's
function where it still exists) and after it, in one process, the two alternated batch by batch;
a figure is the best of ``--repeats`` batches of ``time.process_time``, in µs per call, with the
garbage collector off during a batch.

Usage: .venv/bin/python -m bench.frontcuts [--repeats 15] [--batch 20000] [ITEM ...]
"""

from __future__ import annotations

import argparse
import gc
import secrets
import time
from typing import Callable

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from frontdoor.observability import new_request_id
from frontdoor.security_headers import _RequestWithoutServerHeader

ITEMS: dict[str, Callable[[], tuple[Callable[[], object], Callable[[], object]]]] = {}


def item(function):
    ITEMS[function.__name__] = function
    return function


@item
def absent_key():
    """``request.get`` of a key the request does not hold (a trace id when not tracing, ...)."""
    key = web.RequestKey("absent", str)
    old = make_mocked_request("GET", "/func/x")
    new = make_mocked_request("GET", "/func/x")
    new.__class__ = _RequestWithoutServerHeader  # the same layout: a subclass adding methods only
    return (lambda: old.get(key)), (lambda: new.get(key))


@item
def request_id():
    """A request's id when the client sent none."""
    return (lambda: secrets.token_hex(8)), new_request_id


@item
def metrics():
    """A request's two samples (count, duration) in buffered values, as the front door records them."""
    import os
    import tempfile

    from prometheus_client import CollectorRegistry, Counter, Histogram, values

    from contract import instruments as spec
    from service_runtime.metric_values import ValueBuffer, buffered_value_class, count_and_observe

    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp())
    values.ValueClass = buffered_value_class("bench-0", ValueBuffer())
    registry = CollectorRegistry()
    labels = ("GET", "/api/func/{path}", "", "", "", "200")
    counter = Counter("c", "c", spec.API_DURATION.labels, registry=registry).labels(*labels)
    histogram = Histogram("h", "h", spec.API_DURATION.labels, registry=registry, buckets=spec.API_DURATION.buckets)
    histogram = histogram.labels(*labels)
    record = count_and_observe(counter, histogram)

    def old():
        counter.inc()
        histogram.observe(0.0031)

    return old, (lambda: record(0.0031))


def best_of(call: Callable[[], object], batch: int) -> float:
    gc.disable()
    try:
        started = time.process_time()
        for _ in range(batch):
            call()
        return (time.process_time() - started) / batch * 1e6
    finally:
        gc.enable()


def compare(name: str, repeats: int, batch: int) -> None:
    old, new = ITEMS[name]()
    olds, news = [], []
    for _ in range(repeats):
        olds.append(best_of(old, batch))
        news.append(best_of(new, batch))
    print(f"{name:24} old {min(olds):7.3f} µs   new {min(news):7.3f} µs   ({min(olds) - min(news):+.3f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("items", nargs="*", default=list(ITEMS))
    args = parser.parse_args()
    for name in args.items:
        compare(name, args.repeats, args.batch)


if __name__ == "__main__":
    main()
