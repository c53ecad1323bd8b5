"""Every Prometheus metric webui-host exposes, as data: names, help texts, labels, buckets.

Nothing here records anything: each process builds one ``service_runtime.instruments.Instruments``
from these definitions and hands it to the components that record.  Label values are always from
small fixed sets or from the agents of the cluster, never from user input.

``backendai_api_request_*`` are Backend.AI's series, with its exact names, labels and buckets, so its
dashboards and PromQL work unchanged; the ``webui_host_*`` series are ours.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CounterSpec:
    name: str
    documentation: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]


@dataclass(frozen=True)
class GaugeSpec:
    name: str
    documentation: str
    labels: tuple[str, ...]
    # How the host's processes combine (prometheus-client's multiprocess modes; "live": running ones only).
    multiprocess_mode: str


MetricSpec = CounterSpec | HistogramSpec | GaugeSpec

API_LABELS = ("method", "endpoint", "domain", "operation", "error_detail", "status_code")
API_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30)
SIGN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

# ---- front door ----

API_REQUESTS = CounterSpec(
    "backendai_api_request_count", "Total number of HTTP requests received by the web front door.", API_LABELS
)
API_DURATION = HistogramSpec(
    "backendai_api_request_duration_sec", "HTTP request processing time in seconds.", API_LABELS, API_BUCKETS
)
SIGN_DURATION = HistogramSpec(
    "webui_host_sign_duration_seconds",
    "Time from asking a signer to getting its answer, per agent.",
    ("agent",),
    SIGN_BUCKETS,
)
SIGNER_QUEUE = GaugeSpec(
    "webui_host_signer_queue_depth",
    "Signing requests waiting for an answer, per agent (all front-door workers).",
    ("agent",),
    "livesum",
)
AGENTS = GaugeSpec(
    "webui_host_agents",
    "Web API Agents by group and effective state, as the front door sees etcd.",
    ("group", "state"),
    "livemax",
)
UPSTREAM_ERRORS = CounterSpec(
    "webui_host_upstream_errors", "Failures talking to the Manager or a deployment upstream, by kind.", ("kind",)
)
UPSTREAM_HEALTHY = GaugeSpec(
    "webui_host_upstream_healthy",
    "1 while an upstream endpoint of a deployment is in use, 0 while it is out.",
    ("deployment", "endpoint"),
    "livemin",
)
OPEN_WEBSOCKETS = GaugeSpec(
    "webui_host_open_websockets", "WebSockets relayed right now (all front-door workers).", (), "livesum"
)
DEPENDENCY_UP = GaugeSpec(
    "webui_host_dependency_up",
    "1 when the last readiness check reached it (redis, manager, signers), else 0.",
    ("dependency",),
    "livemin",  # any worker that cannot reach it counts
)
DRAINING_WORKERS = GaugeSpec(
    "webui_host_draining_workers", "Front-door workers that received SIGTERM and are draining.", (), "livesum"
)

# ---- signers ----

SIGNATURES = CounterSpec(
    "webui_host_signatures", "Signing requests answered by signers, by agent and result.", ("agent", "result")
)

# ---- session daemon ----

LOGINS = CounterSpec("webui_host_logins", "Login attempts by result.", ("result",))
SESSION_EVENTS = CounterSpec(
    "webui_host_session_events",
    "Session lifecycle events (session_create, session_expire, session_revoke).",
    ("event",),
)
ACTIVE_SESSIONS = GaugeSpec("webui_host_active_sessions", "Live web sessions in Redis.", (), "livemax")

# ---- every ZeroMQ endpoint ----

ZMQ_REJECTED = CounterSpec(
    "webui_host_zmq_rejected",
    "ZeroMQ messages dropped unanswered (bad MAC, expired, replayed, malformed).",
    ("process", "reason"),
)
