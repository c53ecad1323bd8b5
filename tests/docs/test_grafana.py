"""docs/grafana: a fresh rendering, carrying every PromQL example of the seed plus our own series."""

from __future__ import annotations

import json

from tests.docs.grafana import DASHBOARD, dashboard_queries, load_builder, seed_queries, squeezed


def test_committed_dashboard_is_a_fresh_rendering():
    assert DASHBOARD.read_text() == load_builder().render(), (
        "re-render: .venv/bin/python docs/grafana/build_dashboard.py"
    )


def test_every_seed_query_is_a_panel():
    assert len(seed_queries()) == 15
    panels = {squeezed(expr) for _title, expr in dashboard_queries()}
    for query in seed_queries():
        assert squeezed(query) in panels, query


def test_agent_states_and_our_series_are_shown_and_filtered_by_service_group():
    exprs = [expr for _title, expr in dashboard_queries()]
    for series in (
        "webui_host_agents",
        "webui_host_sign_duration_seconds_bucket",
        "webui_host_signer_queue_depth",
        "webui_host_logins_total",
        "webui_host_active_sessions",
        "webui_host_upstream_errors_total",
        "webui_host_zmq_rejected_total",
    ):
        assert any(series in expr for expr in exprs), series
    assert all('service_group="$service_groups"' in expr for expr in exprs)
    doc = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "service_groups"}
    ids = [panel["id"] for panel in doc["panels"]]
    assert len(ids) == len(set(ids))
