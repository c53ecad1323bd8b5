"""``[otel]``: OpenTelemetry tracing, under Backend.AI's key names (see README, Tracing).

Kept apart from ``contract.config_sections`` so that module stays readable; ``Config.otel`` is this model.
"""

from __future__ import annotations

from typing import Literal

from contract.fields import Field, Model, field_check

# Backend.AI's [otel] (25.7+; the queue keys 26.2+) under its names; its endpoint is OTLP/gRPC (4317),
# ours OTLP/HTTP (4318). The defaults of the queue are the OpenTelemetry SDK's, not Backend.AI's 65536/4096:
# every front-door worker and signer has its own queue, and a full one drops spans rather than memory.
OTEL_LOG_LEVELS = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
}


class OtelConfig(Model, extra="allow"):
    """A section shared with Backend.AI's webserver config: its other keys are kept, not refused."""

    enabled: bool = Field(
        False,
        description="Trace proxied requests with OpenTelemetry (front door, signer, upstream call) and "
        "export the spans over OTLP/HTTP to endpoint. Off: no span is made and no traceparent is sent.",
    )
    log_level: str = Field(
        "INFO",
        description="Threshold of the OpenTelemetry SDK's own log lines (exporter errors, dropped spans): "
        "DEBUG, INFO, WARN, ERROR.",
    )
    endpoint: str = Field(
        "http://localhost:4318",
        description="OTLP/HTTP receiver (e.g. an OpenTelemetry Collector's port 4318): a base URL gets /v1/traces "
        "appended, a URL with a path is used as it is.",
    )
    max_queue_size: int = Field(
        2048,
        ge=1,
        le=1 << 20,
        description="Ended spans a process keeps for export; past it new spans are dropped (never waited for).",
    )
    max_export_batch_size: int = Field(
        512,
        ge=1,
        le=1 << 20,
        description="Most spans sent in one export request (at most max_queue_size).",
    )
    trust_traceparent: Literal["never", "trusted_proxies", "always"] = Field(
        "trusted_proxies",
        description="Whose incoming traceparent/tracestate becomes the parent of the front door's span: "
        "trusted_proxies (only a peer in [service] trusted_proxies, e.g. a tracing ingress), never, or always "
        "(any browser may then choose trace ids and sampling).",
    )

    @field_check("log_level")
    def _level(level: str) -> str:
        name = OTEL_LOG_LEVELS.get(level.strip().upper())
        if name is None:
            raise ValueError(f"unknown log level {level!r} (DEBUG, INFO, WARN, ERROR)")
        return name

    @field_check("endpoint")
    def _url(url: str) -> str:
        if any(ch in url for ch in " \r\n\0"):
            raise ValueError(f"{url!r} is not an http(s) URL")
        if "://" not in url:  # Backend.AI's samples write host:port (its gRPC exporter's form)
            url = f"http://{url}"
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

    @field_check("max_export_batch_size")
    def _batch(size: int, info) -> int:
        queue = info.data.get("max_queue_size")
        if queue is not None and size > queue:
            raise ValueError("must not exceed max_queue_size")
        return size

    @property
    def traces_url(self) -> str:
        """Where spans are POSTed: the endpoint, with /v1/traces when it names no path (as OTEL_EXPORTER_OTLP_ENDPOINT)."""
        scheme, _, rest = self.endpoint.partition("://")
        authority, slash, path = rest.partition("/")
        if not path.strip("/"):
            return f"{scheme}://{authority}/v1/traces"
        return self.endpoint
