"""Render ``webui-host.json``, the Grafana dashboard of webui-host (run: python docs/grafana/build_dashboard.py).

The first panels are the Prometheus query examples of Backend.AI's webserver documentation, verbatim
(``SEED_QUERIES``); the last row is webui-host's own series.  A test checks that the committed JSON is
a fresh rendering and evaluates every query against a real Prometheus scraping a running host.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "webui-host.json"
SG = 'service_group="$service_groups"'

# (row, title, unit, expr): the seed's examples, with $service_groups left for Grafana to fill in.
SEED_QUERIES = [
    (
        "Web requests",
        "Web Request Rate by Endpoint",
        "reqps",
        f"sum(rate(backendai_api_request_count_total{{{SG}}}[1m])) by (method, endpoint, status_code)",
    ),
    (
        "Web requests",
        "Failed Web Requests (4xx and 5xx)",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, status_code=~"[45].."}}[5m])) by (endpoint, status_code)',
    ),
    (
        "Web requests",
        "Authentication Failures",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint="/api/auth/login", status_code!="200"}}[5m]))',
    ),
    (
        "Latency",
        "P95 Web Request Latency",
        "s",
        f"histogram_quantile(0.95, sum(rate(backendai_api_request_duration_sec_bucket{{{SG}}}[5m])) by (le, endpoint))",
    ),
    (
        "Latency",
        "Average Request Duration",
        "s",
        f"sum(rate(backendai_api_request_duration_sec_sum{{{SG}}}[5m])) by (endpoint) / "
        f"sum(rate(backendai_api_request_duration_sec_count{{{SG}}}[5m])) by (endpoint)",
    ),
    (
        "Latency",
        "Slow Requests (> 1 second)",
        "reqps",
        f'sum(rate(backendai_api_request_duration_sec_bucket{{{SG}, le="1.0"}}[5m])) by (endpoint)',
    ),
    (
        "Sessions",
        "Login Request Rate",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint="/api/auth/login"}}[5m]))',
    ),
    (
        "Sessions",
        "Successful Logins",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint="/api/auth/login", status_code="200"}}[5m])) by (status_code)',
    ),
    (
        "Sessions",
        "Failed Logins",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint="/api/auth/login", status_code!="200"}}[5m])) by (status_code)',
    ),
    (
        "Sessions",
        "Logout Request Rate",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint="/api/auth/logout"}}[5m]))',
    ),
    (
        "Proxy",
        "Manager API Proxy Request Rate",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint=~"/api/.*"}}[5m])) by (endpoint)',
    ),
    (
        "Proxy",
        "P95 Proxy Request Duration",
        "s",
        f'histogram_quantile(0.95, sum(rate(backendai_api_request_duration_sec_bucket{{{SG}, endpoint=~"/api/.*"}}[5m])) by (le, endpoint))',
    ),
    (
        "Proxy",
        "Proxy Errors",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint=~"/api/.*", status_code=~"5.."}}[5m])) by (endpoint, error_detail)',
    ),
    (
        "Static assets",
        "Static Asset Request Rate",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint=~"/static/.*"}}[5m])) by (endpoint)',
    ),
    (
        "Static assets",
        "Static Asset 404 Errors",
        "reqps",
        f'sum(rate(backendai_api_request_count_total{{{SG}, endpoint=~"/static/.*", status_code="404"}}[5m])) by (endpoint)',
    ),
]

# webui-host's own series.  Cluster-wide gauges are reported by every host: max, not sum.
OWN_QUERIES = [
    ("webui-host", "Web API Agents by group and state", "short", f"max(webui_host_agents{{{SG}}}) by (group, state)"),
    (
        "webui-host",
        "P95 signing latency per agent",
        "s",
        f"histogram_quantile(0.95, sum(rate(webui_host_sign_duration_seconds_bucket{{{SG}}}[5m])) by (le, agent))",
    ),
    ("webui-host", "Signing queue depth per agent", "short", f"sum(webui_host_signer_queue_depth{{{SG}}}) by (agent)"),
    ("webui-host", "Logins by result", "reqps", f"sum(rate(webui_host_logins_total{{{SG}}}[5m])) by (result)"),
    ("webui-host", "Active sessions", "short", f"max(webui_host_active_sessions{{{SG}}})"),
    (
        "webui-host",
        "Upstream errors by kind",
        "reqps",
        f"sum(rate(webui_host_upstream_errors_total{{{SG}}}[5m])) by (kind)",
    ),
    (
        "webui-host",
        "ZeroMQ messages rejected",
        "reqps",
        f"sum(rate(webui_host_zmq_rejected_total{{{SG}}}[5m])) by (process, reason)",
    ),
    ("webui-host", "Open WebSockets", "short", f"sum(webui_host_open_websockets{{{SG}}})"),
    ("webui-host", "Draining front-door workers", "short", f"sum(webui_host_draining_workers{{{SG}}})"),
]

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_WIDTH, PANEL_HEIGHT = 8, 8


def panel(panel_id: int, title: str, unit: str, expr: str, x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr, "range": True}],
    }


def panels() -> list[dict]:
    out, y, panel_id, row = [], 0, 1, None
    x = 0
    for row_title, title, unit, expr in SEED_QUERIES + OWN_QUERIES:
        if row_title != row:
            if row is not None:
                y += PANEL_HEIGHT if x else 0
            out.append(
                {
                    "id": panel_id,
                    "type": "row",
                    "title": row_title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            panel_id, y, x, row = panel_id + 1, y + 1, 0, row_title
        if x + PANEL_WIDTH > 24:
            x, y = 0, y + PANEL_HEIGHT
        out.append(panel(panel_id, title, unit, expr, x, y))
        panel_id, x = panel_id + 1, x + PANEL_WIDTH
    return out


def dashboard() -> dict:
    return {
        "uid": "webui-host",
        "title": "webui-host (Backend.AI web front)",
        "tags": ["backend.ai", "webui-host"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "service_groups",
                    "type": "query",
                    "label": "Service group",
                    "datasource": DATASOURCE,
                    "query": {"query": "label_values(backendai_api_request_count_total, service_group)", "refId": "SG"},
                    "definition": "label_values(backendai_api_request_count_total, service_group)",
                    "refresh": 2,
                    "includeAll": False,
                    "multi": False,
                },
            ]
        },
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    sys.stdout.write(f"wrote {OUTPUT}\n")
