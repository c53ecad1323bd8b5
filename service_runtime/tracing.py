"""OpenTelemetry tracing (``[otel]``): spans of proxied requests, W3C trace context, an OTLP/HTTP exporter.

``start_tracing`` returns ``NO_TRACING`` when ``[otel] enabled`` is false: its methods make no span and
return shared empty objects, and neither the tracing SDK nor the exporter is imported, so tracing off
costs a method call per hop.  (redis-py imports OpenTelemetry's metrics API when it is installed, for
an observability of its own that stays off unless set up; we never set it up.)  When enabled, a
``Tracing`` owns a tracer provider of its own (the global one is left alone) whose ``BatchSpanProcessor`` hands ended spans to a worker thread: ``span.end()`` on the
event loop only appends to a bounded deque (a full queue drops the span; the SDK's warning about it is
let through once a minute), and the exporter's HTTP requests (``requests``, blocking) run on that thread.

What a span may carry is decided by its caller (``frontdoor.proxy``, ``signer_worker.service``): routes,
methods, status codes, deployment names, request ids; never cookies, signatures, keys, paths or queries.
Exceptions are recorded as their type name only (``error.type``), never their message or traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from contract.otel_config import OtelConfig
from service_runtime.version import VERSION

log = logging.getLogger(__name__)
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
EXPORT_TIMEOUT = 10.0  # seconds one export request may take (the exporter retries within it)
CLOSE_GRACE = 3.0  # seconds a stopping process waits for its last spans to be exported
DROP_WARNING_INTERVAL = 60.0
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_EMPTY: Mapping[str, str] = {}


def http_method(method: str) -> str:
    """The method as a span may name it (semantic conventions: an unknown one is ``_OTHER``)."""
    return method if method in HTTP_METHODS else "_OTHER"


class _NullSpan:
    __slots__ = ()

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass


NULL_SPAN = _NullSpan()
_NO_SPAN = contextlib.nullcontext(NULL_SPAN)  # reusable: nullcontext keeps no state


class NoTracing:
    """``[otel]`` off: no span, no trace headers."""

    enabled = False

    def server_span(self, name: str, attributes: Mapping[str, Any], carrier: Mapping[str, str] | None = None):
        """A span for a request received, child of ``carrier``'s trace context if given, else a new trace."""
        return _NO_SPAN

    def client_span(self, name: str, attributes: Mapping[str, Any]):
        """A span for a request made on behalf of the current span."""
        return _NO_SPAN

    def annotate(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes to the current span."""

    def http_status(self, span: Any, status: int, *, server: bool) -> None:
        """Record an HTTP status on ``span``; an error is 5xx for a server span, 4xx too for a client span."""

    def trace_id(self, span: Any) -> str:
        """The span's trace id in hex (for log lines), or empty."""
        return ""

    def error(self, span: Any, error_type: str) -> None:
        """Mark ``span`` failed, with ``error_type`` (a short label, never a message) as ``error.type``."""

    def propagation_headers(self) -> Mapping[str, str]:
        """``traceparent`` (and ``tracestate``) of the current span, for the next hop."""
        return _EMPTY

    def remote_span(
        self,
        name: str,
        carrier: Mapping[str, Any],
        start_ns: int,
        attributes: Mapping[str, Any],
        *,
        error: bool = False,
    ) -> None:
        """An ended span of work done from ``start_ns`` until now for a peer that sent ``carrier``'s context
        (none when it sent none)."""

    async def aclose(self) -> None:
        """Export what is still queued (bounded by ``CLOSE_GRACE``) and stop the exporter."""


NO_TRACING = NoTracing()


class _OncePer(logging.Filter):
    """Lets a ``Queue full, dropping`` warning through once per interval: under overload every dropped span
    would otherwise log a line from the event loop."""

    def __init__(self, interval: float):
        super().__init__()
        self._interval = interval
        self._last = -interval
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Queue full"):
            return True
        now = time.monotonic()
        if now - self._last < self._interval:
            self.suppressed += 1
            return False
        self._last = now
        return True


class Tracing(NoTracing):
    enabled = True

    def __init__(self, config: OtelConfig, role: str, instance: str | int):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        logging.getLogger("opentelemetry").setLevel(config.log_level)
        # The batch processor's logger (opentelemetry-sdk 1.45), which warns once per dropped span.
        logging.getLogger("opentelemetry.sdk._shared_internal").addFilter(_OncePer(DROP_WARNING_INTERVAL))
        resource = Resource.create(
            {
                "service.name": f"webui-host-{role}",
                "service.namespace": "webui-host",
                "service.version": VERSION,
                "service.instance.id": str(uuid.uuid4()),
                "service.instance.name": f"{socket.gethostname()}-{role}-{instance}",
            }
        )
        self._provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=config.traces_url, timeout=EXPORT_TIMEOUT),
                max_queue_size=config.max_queue_size,
                max_export_batch_size=config.max_export_batch_size,
            )
        )
        self._tracer = self._provider.get_tracer("webui-host", VERSION)
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = SpanKind
        self._error = StatusCode.ERROR
        log.info("tracing enabled", extra={"event": "otel_enabled", "endpoint": config.traces_url})

    @contextlib.contextmanager
    def _span(self, name: str, kind: Any, attributes: Mapping[str, Any], context: Any = None) -> Iterator[Any]:
        with self._tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(self._error)
                raise

    def server_span(self, name: str, attributes: Mapping[str, Any], carrier: Mapping[str, str] | None = None):
        from opentelemetry.context import Context

        # Never the ambient context: a span of ours starts a trace unless the carrier is trusted.
        parent = self._propagator.extract(carrier, context=Context()) if carrier else Context()
        return self._span(name, self._kinds.SERVER, attributes, parent)

    def client_span(self, name: str, attributes: Mapping[str, Any]):
        return self._span(name, self._kinds.CLIENT, attributes)

    def annotate(self, attributes: Mapping[str, Any]) -> None:
        from opentelemetry import trace

        trace.get_current_span().set_attributes(attributes)

    def http_status(self, span: Any, status: int, *, server: bool) -> None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500 or (not server and status >= 400):
            self.error(span, str(status))

    def trace_id(self, span: Any) -> str:
        return format(span.get_span_context().trace_id, "032x")

    def error(self, span: Any, error_type: str) -> None:
        span.set_attribute("error.type", error_type)
        span.set_status(self._error)

    def propagation_headers(self) -> Mapping[str, str]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def remote_span(self, name, carrier, start_ns, attributes, *, error=False) -> None:  # typed in NoTracing
        from opentelemetry.context import Context

        if not carrier.get(TRACEPARENT):
            return  # a peer that traces nothing: no trace of our own for it
        parent = self._propagator.extract(
            {key: carrier[key] for key in (TRACEPARENT, TRACESTATE) if carrier.get(key)}, context=Context()
        )
        span = self._tracer.start_span(
            name, context=parent, kind=self._kinds.SERVER, attributes=attributes, start_time=start_ns
        )
        if error:
            span.set_status(self._error)
        span.end()

    async def aclose(self) -> None:
        # On a thread of its own (not the loop's executor, whose shutdown would wait for it): an unreachable
        # receiver must not hold up the process's exit beyond CLOSE_GRACE.
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def shut_down() -> None:
            try:
                self._provider.shutdown()
            except Exception:  # the exporter logs its own failures
                pass
            with contextlib.suppress(RuntimeError):  # the loop may be closed by then
                loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        threading.Thread(target=shut_down, name="otel-shutdown", daemon=True).start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_GRACE):
                await finished


def start_tracing(config: OtelConfig, role: str, instance: str | int = 0) -> NoTracing:
    """``Tracing`` when ``[otel] enabled``; otherwise ``NO_TRACING`` (OpenTelemetry is not imported)."""
    return Tracing(config, role, instance) if config.enabled else NO_TRACING
