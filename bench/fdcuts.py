"""Interleaved micro-benchmarks of the tenth session's front-door cuts (``fdcuts``), old against new, in
one uvloop: main's modules loaded from ``--baseline`` beside this checkout's where the old code still
exists there, the two alternated batch by batch, each figure the best of ``--repeats`` batches of
``time.process_time`` in µs per call, the garbage collector off during a batch (``bench.frontcuts``'
harness).

Items:
- ``sign_observe``: the signing duration recorded: the agent's child found by ``Labelled.labels`` and
  prometheus-client's ``observe`` (main) against the agent's ``observe_directly`` from a dict.
- ``manager_deployment``: ``FrontDoor.deployment("manager")``: main's tuple of the endpoints and of the
  source per call against the part-by-part comparison.
- ``cookie_rules``: ``UpstreamExchange.cookie_rules``' memo asked with a keyword (main) and positionally.
- ``answer_headers``: ``downstream_headers`` of a Manager's five-header answer: each name lower-cased and
  tested (main) against its kind remembered by name.
- ``small_answer``: a small answer all there with its head made into the browser's answer: through
  ``_relay``'s and ``read``'s coroutines (main) against ``arrived_body`` called.
- ``known_session``: the proxy's look at the session the guard read: a coroutine made and awaited
  (``FrontDoor.session``, main) against ``known_session`` called.
- ``frames``: a proxied request's coroutines from the request chain to the call that waits, suspended
  once while the signer works and once while the Manager answers: main's 8 + 7 frames of ours against
  4 + 4 (the signer pool's three and the lean client's one below them in both), a synthetic chain of
  coroutines that only await the next.

Usage: .venv/bin/python -m bench.fdcuts [--repeats 15] [--batch 20000] [--baseline DIR] [ITEM ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import types
from pathlib import Path

import uvloop
from prometheus_client import CollectorRegistry

from bench import frontcuts
from bench.frontcuts import load_baseline

ITEMS = {}


def item(function):
    ITEMS[function.__name__] = function
    return function


@item
def sign_observe():
    from prometheus_client import values

    from contract import instruments as spec
    from service_runtime.instruments import Labelled, histogram
    from service_runtime.metric_values import ValueBuffer, buffered_value_class, observe_directly
    from service_runtime.metrics import MULTIPROC_ENV

    # The values as a front door has them: buffered, over the multiprocess files (here a fresh directory).
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="fdcuts-metrics-")
    values.ValueClass = buffered_value_class("frontdoor-0", ValueBuffer())
    family = Labelled(histogram(spec.SIGN_DURATION, CollectorRegistry()))
    observers = {"agent-1": observe_directly(family.labels("agent-1"))}

    def old():
        family.labels("agent-1").observe(0.000412)

    def new():
        observe = observers.get("agent-1")
        if observe is None:
            raise AssertionError
        observe(0.000412)

    return old, new


@item
def manager_deployment():
    from contract.config import parse_config
    from frontdoor import context

    old_context = load_baseline("baseline_context", "frontdoor/context.py")
    config = parse_config({})
    endpoints = ["http://127.0.0.1:8081"]
    old_front = old_context.FrontDoor(config, endpoints, None, None, None, None, None, None)
    new_front = context.FrontDoor(config, endpoints, None, None, None, None, None, None)
    assert old_front.deployment("manager") == new_front.deployment("manager")
    return (lambda: old_front.deployment("manager")), (lambda: new_front.deployment("manager"))


@item
def cookie_rules():
    from contract.config import parse_config
    from contract.deployment_rules import manager_deployment
    from frontdoor import upstream_exchange

    old_module = load_baseline("baseline_upstream_exchange", "frontdoor/upstream_exchange.py")
    # (main's module calls this checkout's memo, with the keyword it was called with on main)
    front = types.SimpleNamespace(config=parse_config({}))
    old_exchange = object.__new__(old_module.UpstreamExchange)
    new_exchange = object.__new__(upstream_exchange.UpstreamExchange)
    old_exchange._front = new_exchange._front = front
    deployment = manager_deployment(("http://127.0.0.1:8081",), "DEFAULT")
    assert old_exchange.cookie_rules(deployment) == new_exchange.cookie_rules(deployment)
    return (lambda: old_exchange.cookie_rules(deployment)), (lambda: new_exchange.cookie_rules(deployment))


@item
def answer_headers():
    from multidict import CIMultiDict, CIMultiDictProxy

    from frontdoor import upstream

    old_upstream = load_baseline("baseline_upstream", "frontdoor/upstream.py")
    rules = upstream.cookie_rules("AIOHTTP_SESSION", "sToken", "/func", True)
    old_rules = old_upstream.cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    arrived = CIMultiDictProxy(  # a Manager's answer head (aiohttp's server), as the lean client parses it
        CIMultiDict(
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", "2"),
                ("Date", "Mon, 30 Nov 2026 09:30:00 GMT"),
                ("Server", "Python/3.11 aiohttp/3.14.0"),
                ("X-Request-ID", "0123456789abcdef"),
            ]
        )
    )

    def old():
        return old_upstream.downstream_headers(arrived, cookies=old_rules)

    def new():
        return upstream.downstream_headers(arrived, cookies=rules)

    assert list(old().items()) == list(new().items())
    return old, new


@item
def small_answer():
    from multidict import CIMultiDict

    from frontdoor.security_headers import RelayedAnswer
    from frontdoor.upstream_wire import UpstreamConnection

    connection = UpstreamConnection()
    connection._complete, connection._paused = True, False
    headers = CIMultiDict([("Content-Type", "application/json")])

    async def relay():  # main: ``LeanExchange._relay``'s small path, ``read()`` awaited
        body = await connection.read()
        return RelayedAnswer(status=200, reason="OK", body=body, headers=headers)

    def old():
        connection._chunks.append(b'{"authorized": "yes", "echo": "bench"}')
        return frontcuts_run(relay())

    def new():
        connection._chunks.append(b'{"authorized": "yes", "echo": "bench"}')
        body = connection.arrived_body()
        return RelayedAnswer(status=200, reason="OK", body=body, headers=headers)

    return old, new


class _Front:
    """``FrontDoor.session``/``known_session`` when the guard has read the session (the common case)."""

    def __init__(self, record):
        self._record = record

    def known_session(self, _request):
        return self._record

    async def session(self, request):
        return self.known_session(request)


@item
def known_session():
    front, unread = _Front(object()), object()

    async def old():
        return await front.session(None)

    async def new():
        record = front.known_session(None)
        if record is unread:
            raise AssertionError
        return record

    return (lambda: frontcuts_run(old())), (lambda: frontcuts_run(new()))


def frontcuts_run(coroutine):
    """A coroutine that never suspends, run to its end without the loop (as an awaiting handler would)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("suspended")


class _Suspend:
    def __await__(self):
        yield


async def _waits():
    await _Suspend()
    return 1


async def _through(depth: int, leaf):
    return await (_through(depth - 1, leaf) if depth > 1 else leaf())


def _request(shared: int, signing: int, upstream: int):
    """The request's coroutine: ``shared`` frames above the attempts' (``_to_an_endpoint``), ``signing``
    of ours below it above the signer pool's three, ``upstream`` of ours above the lean client's one;
    each wait suspended once."""

    async def attempts():
        await _through(signing + 3, _waits)
        return await _through(upstream + 1, _waits)

    return _through(shared, attempts)


def _drive(coroutine) -> None:
    while True:
        try:
            coroutine.send(None)
        except StopIteration:
            return


@item
def frames():
    # main: handle, guard, handle_manager, _proxy | sign, _signed_headers, _signature_or_refusal | _exchange,
    # exchange; now: handle, handle_manager | _signature_or_refusal | exchange
    return (lambda: _drive(_request(4, 3, 2))), (lambda: _drive(_request(2, 1, 1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"))
    parser.add_argument("items", nargs="*", default=list(ITEMS))
    args = parser.parse_args()
    frontcuts.BASELINE = args.baseline
    frontcuts.ITEMS.clear()
    frontcuts.ITEMS.update(ITEMS)
    for name in args.items:
        uvloop.run(frontcuts.compare(name, args.repeats, args.batch))  # the front door's loop


if __name__ == "__main__":
    main()
