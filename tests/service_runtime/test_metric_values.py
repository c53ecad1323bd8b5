"""Buffered metric values: in memory at once, in the multiprocess files at a flush, and from them at a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from service_runtime.metric_values import (
    ValueBuffer,
    buffered_value_class,
    count_and_observe,
    flush_periodically,
    observe_directly,
)
from service_runtime.metrics import MULTIPROC_ENV
from tests.support.polling import eventually


@pytest.fixture
def buffered(tmp_path: Path, monkeypatch):
    """A fresh buffer, and metrics made from now on in this test buffered by it under ``frontdoor-0``."""
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))

    def start() -> ValueBuffer:
        buffer = ValueBuffer()
        monkeypatch.setattr(values, "ValueClass", buffered_value_class("frontdoor-0", buffer))
        return buffer

    return start


def in_files(path: Path, name: str, labels: dict[str, str] | None = None) -> float | None:
    """A sample as a scrape of the directory shows it."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(path))
    return registry.get_sample_value(name, labels)


def test_samples_reach_the_files_at_a_flush_and_are_read_in_memory_before(buffered, tmp_path: Path):
    buffer = buffered()
    registry = CollectorRegistry()
    counter = Counter("requests", "r", ["kind"], registry=registry).labels("a")
    histogram = Histogram("duration", "d", registry=registry, buckets=(0.1, 1.0))
    counter.inc(2)
    histogram.observe(0.5)
    assert counter._value.get() == 2
    assert in_files(tmp_path, "requests_total", {"kind": "a"}) == 0  # created in the file, not written yet
    assert in_files(tmp_path, "duration_sum") == 0

    assert buffer.flush() == 3  # the counter, the histogram's sum and its one bucket
    assert in_files(tmp_path, "requests_total", {"kind": "a"}) == 2
    assert in_files(tmp_path, "duration_sum") == 0.5
    assert in_files(tmp_path, "duration_bucket", {"le": "1.0"}) == 1
    assert in_files(tmp_path, "duration_bucket", {"le": "0.1"}) == 0
    assert buffer.flush() == 0  # nothing changed since


def test_a_value_changed_again_is_written_with_its_newest_value(buffered, tmp_path: Path):
    buffer = buffered()
    counter = Counter("calls", "c", registry=CollectorRegistry())
    counter.inc(5)
    buffer.flush()
    counter.inc(3)
    counter.inc()
    assert in_files(tmp_path, "calls_total") == 5
    assert buffer.flush() == 1
    assert in_files(tmp_path, "calls_total") == 9


def test_gauges_are_written_at_once(buffered, tmp_path: Path):
    buffer = buffered()
    gauge = Gauge("open", "o", registry=CollectorRegistry(), multiprocess_mode="livesum")
    gauge.set(5)
    assert in_files(tmp_path, "open") == 5  # a scrape served by another process sees it now
    gauge.dec()
    assert in_files(tmp_path, "open") == 4
    assert gauge._value.get() == 4
    assert buffer.flush() == 0


def test_a_restarted_process_continues_from_what_was_flushed(buffered, tmp_path: Path):
    first = buffered()
    Counter("logins", "l", registry=CollectorRegistry()).inc(7)
    first.flush()
    second = buffered()  # a new process under the same identifier: its values start from the files
    counter = Counter("logins", "l", registry=CollectorRegistry())
    assert counter._value.get() == 7
    counter.inc()
    second.flush()
    assert in_files(tmp_path, "logins_total") == 8


async def test_the_periodic_flush_writes_what_changed(buffered, tmp_path: Path):
    buffer = buffered()
    counter = Counter("signatures", "s", registry=CollectorRegistry())
    flushing = asyncio.create_task(flush_periodically(buffer, interval=0.01))
    try:
        counter.inc(3)
        await eventually(lambda: in_files(tmp_path, "signatures_total") == 3, timeout=5, interval=0.01)
    finally:
        flushing.cancel()


BUCKETS = (0.005, 0.01, 0.025, 0.1, 1.0)
# Bounds themselves (``le``: a bound's own value is in its bucket), between, below, above every bound.
AMOUNTS = (0.0, 0.005, 0.0050001, 0.01, 0.004, 0.3, 1.0, 7.5, -0.5, 0.025, 0.1, 1e-9)


def samples(registry: CollectorRegistry) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in registry.collect() for s in m.samples}


def recorded(record_with_helper: bool) -> dict:
    registry = CollectorRegistry()
    counter = Counter("api_requests", "r", ["endpoint"], registry=registry).labels("/func/{path}")
    histogram = Histogram("api_duration", "d", ["endpoint"], registry=registry, buckets=BUCKETS).labels("/func/{path}")
    record = count_and_observe(counter, histogram)
    for amount in AMOUNTS:
        if record_with_helper:
            record(amount)
        else:
            counter.inc()
            histogram.observe(amount)
    return {key: value for key, value in samples(registry).items() if not key[0].endswith("_created")}


@pytest.mark.parametrize("buffer_values", [False, True])
def test_count_and_observe_changes_what_inc_and_observe_change(buffered, buffer_values):
    if buffer_values:
        buffered()
    assert recorded(record_with_helper=True) == recorded(record_with_helper=False)


def test_count_and_observe_of_a_family_without_its_label_values_refuses_as_observe_does():
    registry = CollectorRegistry()
    counter = Counter("c", "c", ["kind"], registry=registry)
    histogram = Histogram("h", "h", ["kind"], registry=registry)
    with pytest.raises(ValueError, match="missing label values"):
        count_and_observe(counter, histogram)(0.1)


def observed(directly: bool) -> dict:
    registry = CollectorRegistry()
    histogram = Histogram("sign_duration", "d", ["agent"], registry=registry, buckets=BUCKETS).labels("agent-1")
    observe = observe_directly(histogram) if directly else histogram.observe
    for amount in AMOUNTS:
        observe(amount)
    return {key: value for key, value in samples(registry).items() if not key[0].endswith("_created")}


@pytest.mark.parametrize("buffer_values", [False, True])
def test_observe_directly_changes_what_observe_changes(buffered, buffer_values):
    if buffer_values:
        buffered()
    assert observed(directly=True) == observed(directly=False)


def test_observe_directly_of_a_family_without_its_label_values_refuses_as_observe_does():
    histogram = Histogram("h", "h", ["kind"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="missing label values"):
        observe_directly(histogram)(0.1)
