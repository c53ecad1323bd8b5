"""What every process of a host shares at run time: the ZeroMQ channel (both halves), the invalidated-record
caches, the etcd follower and admin service, Redis and etcd clients, key files, logging, metrics, settings,
SIGHUP reload and the one process skeleton (``process.run_process``).  Everything with I/O lives here;
``contract`` holds the data, codecs and rules it is built on.
"""

import sys

# redis-py loads OpenTelemetry's metrics SDK when it is installed (an optional import, for OTel
# metrics of its own that must be switched on explicitly); no process here uses OTel metrics (ours
# are Prometheus, and [otel] is tracing only), yet every process paid ~8 MiB and ~0.1 s of start-up
# for it. A None entry makes that optional import fail as if the metrics SDK were absent.
sys.modules.setdefault("opentelemetry.sdk.metrics", None)
