"""Metric samples kept in memory and written to the multiprocess files in batches.

prometheus-client's multiprocess value writes every ``inc``/``set``/``observe`` through to its mmap file
under a lock (2.3 µs for a counter, 7 µs for a histogram observation): a proxied request made five such
writes in the front door and one in the signer.  ``BufferedValue`` changes a counter's or a histogram's
value in memory and marks it; ``flush`` writes the marked ones.  Gauges are written through.  The process skeleton flushes every ``FLUSH_INTERVAL``, a
scrape flushes its own process first, and the interpreter's exit flushes the rest, so a scrape shows
another process's samples at most ``FLUSH_INTERVAL`` late and the files are exact once it has ended.
Reading and restarting are unchanged: a value starts from its file, as prometheus-client's does.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from bisect import bisect_left
from typing import Callable

from prometheus_client import Counter, Histogram, values

FLUSH_INTERVAL = 1.0  # seconds a scrape may lag behind another process's newest samples


class ValueBuffer:
    """The values changed since the last flush, and the one way to write them."""

    def __init__(self) -> None:
        self._changed: set = set()
        self._lock = threading.Lock()  # a scrape flushes from an executor thread, the skeleton from the loop

    def mark(self, value) -> None:
        self._changed.add(value)

    def flush(self) -> int:
        """Write every changed value to its file; how many were written."""
        written = 0
        with self._lock:
            changed = self._changed
            while changed:
                value = changed.pop()  # one at a time: a change made meanwhile marks it again
                value._file.write_value(value._key, value._value, value._timestamp)
                written += 1
        return written


def buffered_value_class(identifier: str, buffer: ValueBuffer) -> type:
    """prometheus-client's multiprocess value for files named after ``identifier``, written by ``buffer``."""
    mmaped = values.MultiProcessValue(lambda: identifier)

    class BufferedValue(mmaped):
        # Gauges are written through as before: they change on events (health, a worker draining),
        # and a scrape served by another process must see them at once.  Counters and histograms,
        # the per-request samples, are buffered.  The identifier never changes (it is not a PID), so
        # the base's fork check has nothing to do for them.
        def __init__(self, typ, *args, **kwargs):
            super().__init__(typ, *args, **kwargs)
            self._buffered = typ != "gauge"

        def inc(self, amount):
            if not self._buffered:
                return super().inc(amount)
            self._value += amount
            self._timestamp = 0.0
            buffer.mark(self)

        def set(self, value, timestamp=None):
            if not self._buffered:
                return super().set(value, timestamp)
            self._value = value
            self._timestamp = timestamp or 0.0
            buffer.mark(self)

        def get(self):
            return self._value if self._buffered else super().get()

    return BufferedValue


PROCESS_BUFFER = ValueBuffer()  # the process's metric values (one ValueClass per process)
atexit.register(PROCESS_BUFFER.flush)  # the last samples of a process that ends without the skeleton's flush


def use_buffered_values(identifier: str) -> None:
    """Make every metric created from now on a buffered one (written by ``PROCESS_BUFFER``)."""
    values.ValueClass = buffered_value_class(identifier, PROCESS_BUFFER)


def count_and_observe(counter: Counter, histogram: Histogram) -> Callable[[float], None]:
    """``counter.inc(); histogram.observe(amount)`` for two children of labelled families (what
    ``labels()`` returns), changing the same values in the same order, without what prometheus-client
    does on every call besides: whether the metric has its label values (a child always has; two calls
    of ``_is_observable`` each) and the walk over the buckets (a bisection finds the first bound
    ``>= amount``, the bucket ``observe``'s ``amount <= bound`` picks).  ``amount`` is a finite number
    (a duration).  Anything else than such children is recorded through the public methods."""
    if not (_is_child(counter, Counter) and _is_child(histogram, Histogram)):

        def public(amount: float) -> None:
            counter.inc()
            histogram.observe(amount)

        return public
    count, total, bounds, buckets = counter._value, histogram._sum, histogram._upper_bounds, histogram._buckets

    def direct(amount: float) -> None:
        count.inc(1)
        total.inc(amount)
        buckets[bisect_left(bounds, amount)].inc(1)

    return direct


def observe_directly(histogram: Histogram) -> Callable[[float], None]:
    """``histogram.observe(amount)`` for a child of a labelled family, as ``count_and_observe`` records
    its histogram: the same values changed in the same order (the sum, then the bucket a bisection
    finds), without ``_is_observable`` and the walk over the buckets.  ``amount`` is a finite number.
    Anything else than such a child is given its own ``observe``."""
    if not _is_child(histogram, Histogram):
        return histogram.observe
    total, bounds, buckets = histogram._sum, histogram._upper_bounds, histogram._buckets

    def direct(amount: float) -> None:
        total.inc(amount)
        buckets[bisect_left(bounds, amount)].inc(1)

    return direct


def _is_child(metric, family: type) -> bool:
    return type(metric) is family and bool(metric._labelnames) and bool(metric._labelvalues)


async def flush_periodically(buffer: ValueBuffer = PROCESS_BUFFER, interval: float = FLUSH_INTERVAL) -> None:
    while True:
        await asyncio.sleep(interval)
        buffer.flush()
