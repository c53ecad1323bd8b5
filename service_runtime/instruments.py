"""One process's metrics, as an object: built once by the process's assembly, handed to what records.

The definitions are data in ``contract.instruments``; this builds prometheus-client metrics from them
in a registry of the object's own, so any number of them can live in one process (a test builds its
own) without clashing in prometheus-client's global registry.  In a process started by the skeleton,
``service_runtime.metrics.Metrics.enable`` builds it after choosing the metric files, so every sample
lands in the host's shared directory.

Label children are looked up in a plain dict (``Labelled.labels``): prometheus-client's own
``labels()`` converts, validates and takes a lock on every call.  A component that records on the
request path can also bind its children once, at construction, and keep them.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contract import instruments as spec
from contract.instruments import CounterSpec, GaugeSpec, HistogramSpec

Family = TypeVar("Family", Counter, Gauge, Histogram)


class Labelled(Generic[Family]):
    """A labelled metric family whose children, once made, are found by a dict lookup."""

    __slots__ = ("family", "_children")

    def __init__(self, family: Family):
        self.family = family
        self._children: dict[tuple[str, ...], Family] = {}

    def labels(self, *values: str) -> Family:
        child = self._children.get(values)
        if child is None:  # label values come from small fixed sets or the cluster's agents: bounded
            child = self._children[values] = self.family.labels(*values)
        return child


def counter(definition: CounterSpec, registry: CollectorRegistry) -> Counter:
    return Counter(definition.name, definition.documentation, definition.labels, registry=registry)


def gauge(definition: GaugeSpec, registry: CollectorRegistry) -> Gauge:
    return Gauge(
        definition.name,
        definition.documentation,
        definition.labels,
        registry=registry,
        multiprocess_mode=definition.multiprocess_mode,
    )


def histogram(definition: HistogramSpec, registry: CollectorRegistry) -> Histogram:
    return Histogram(
        definition.name, definition.documentation, definition.labels, registry=registry, buckets=definition.buckets
    )


class Instruments:
    """Every metric of ``contract.instruments``; ``role`` is this process's ``process`` label value."""

    def __init__(self, role: str = "unknown"):
        self.role = role
        self.registry = registry = CollectorRegistry()
        # ---- front door ----
        self.api_requests = Labelled(counter(spec.API_REQUESTS, registry))
        self.api_duration = Labelled(histogram(spec.API_DURATION, registry))
        self.sign_duration = Labelled(histogram(spec.SIGN_DURATION, registry))
        self.signer_queue = Labelled(gauge(spec.SIGNER_QUEUE, registry))
        self.agents = Labelled(gauge(spec.AGENTS, registry))
        self.upstream_errors = Labelled(counter(spec.UPSTREAM_ERRORS, registry))
        self.upstream_healthy = Labelled(gauge(spec.UPSTREAM_HEALTHY, registry))
        self.open_websockets = gauge(spec.OPEN_WEBSOCKETS, registry)
        self.dependency_up = Labelled(gauge(spec.DEPENDENCY_UP, registry))
        self.draining_workers = gauge(spec.DRAINING_WORKERS, registry)
        # ---- signers ----
        self.signatures = Labelled(counter(spec.SIGNATURES, registry))
        # ---- session daemon ----
        self.logins = Labelled(counter(spec.LOGINS, registry))
        self.session_events = Labelled(counter(spec.SESSION_EVENTS, registry))
        self.active_sessions = gauge(spec.ACTIVE_SESSIONS, registry)
        # ---- every ZeroMQ endpoint ----
        self.zmq_rejected = Labelled(counter(spec.ZMQ_REJECTED, registry))
