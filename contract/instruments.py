"""Every Prometheus metric webui-host exposes, in one place (the ops listener serves them all).

Import this module only after ``service_runtime.metrics.enable_multiprocess`` (see there).  Label values are
always from small fixed sets or from the agents of the cluster, never from user input.

``backendai_api_request_*`` are Backend.AI's series, with its exact names, labels and buckets, so its
dashboards and PromQL work unchanged; the ``webui_host_*`` series are ours.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_LABELS = ("method", "endpoint", "domain", "operation", "error_detail", "status_code")
API_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30)
SIGN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

# ---- front door ----

API_REQUESTS = Counter(
    "backendai_api_request_count", "Total number of HTTP requests received by the web front door.", API_LABELS
)
API_DURATION = Histogram(
    "backendai_api_request_duration_sec",
    "HTTP request processing time in seconds.",
    API_LABELS,
    buckets=API_BUCKETS,
)
SIGN_DURATION = Histogram(
    "webui_host_sign_duration_seconds",
    "Time from asking a signer to getting its answer, per agent.",
    ("agent",),
    buckets=SIGN_BUCKETS,
)
SIGNER_QUEUE = Gauge(
    "webui_host_signer_queue_depth",
    "Signing requests waiting for an answer, per agent (all front-door workers).",
    ("agent",),
    multiprocess_mode="livesum",
)
AGENTS = Gauge(
    "webui_host_agents",
    "Web API Agents by group and effective state, as the front door sees etcd.",
    ("group", "state"),
    multiprocess_mode="livemax",
)
UPSTREAM_ERRORS = Counter(
    "webui_host_upstream_errors", "Failures talking to the Manager or a deployment upstream, by kind.", ("kind",)
)
UPSTREAM_HEALTHY = Gauge(
    "webui_host_upstream_healthy",
    "1 while an upstream endpoint of a deployment is in use, 0 while it is out.",
    ("deployment", "endpoint"),
    multiprocess_mode="livemin",
)
OPEN_WEBSOCKETS = Gauge(
    "webui_host_open_websockets",
    "WebSockets relayed right now (all front-door workers).",
    multiprocess_mode="livesum",
)
DEPENDENCY_UP = Gauge(
    "webui_host_dependency_up",
    "1 when the last readiness check reached it (redis, manager, signers), else 0.",
    ("dependency",),
    multiprocess_mode="livemin",  # any worker that cannot reach it counts
)
DRAINING_WORKERS = Gauge(
    "webui_host_draining_workers",
    "Front-door workers that received SIGTERM and are draining.",
    multiprocess_mode="livesum",
)

# ---- signers ----

SIGNATURES = Counter(
    "webui_host_signatures", "Signing requests answered by signers, by agent and result.", ("agent", "result")
)

# ---- session daemon ----

LOGINS = Counter("webui_host_logins", "Login attempts by result.", ("result",))
SESSION_EVENTS = Counter(
    "webui_host_session_events",
    "Session lifecycle events (session_create, session_expire, session_revoke).",
    ("event",),
)
ACTIVE_SESSIONS = Gauge("webui_host_active_sessions", "Live web sessions in Redis.", multiprocess_mode="livemax")

# ---- every ZeroMQ endpoint ----

ZMQ_REJECTED = Counter(
    "webui_host_zmq_rejected",
    "ZeroMQ messages dropped unanswered (bad MAC, expired, replayed, malformed).",
    ("process", "reason"),
)
