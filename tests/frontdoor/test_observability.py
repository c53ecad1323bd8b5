"""Request labels and /stats counts: plain functions, table-driven."""

from __future__ import annotations

import json
import os
import re

import pytest
from aiohttp import web

from contract.instruments import API_LABELS
from frontdoor.observability import (
    STATS_KINDS,
    InFlight,
    RequestMetrics,
    endpoint_label,
    error_info,
    error_labels,
    handler_kind,
    method_label,
    new_request_id,
    problem_slug,
)
from frontdoor.ops import agent_state_counts, stats_text
from service_runtime.instruments import Instruments


@pytest.mark.parametrize(
    "template, path, expected",
    [
        ("/server/login", "/server/login", "/api/auth/login"),
        ("/api/auth/login", "/api/auth/login", "/api/auth/login"),
        ("/server/logout", "/server/logout", "/api/auth/logout"),
        ("/api/auth/logout", "/api/auth/logout", "/api/auth/logout"),
        ("/func/{path}", "/func/session/abc/logs", "/api/func/{path}"),
        ("/webapi/{deployment}/{path}", "/webapi/echo/x/y", "/api/webapi/{deployment}/{path}"),
        ("/{tail}", "/", "/"),
        ("/{tail}", "/js/app.js", "/static/{path}"),
        ("/{tail}", "/../../etc/passwd", "/static/{path}"),  # whatever the path: bounded
        ("/server/login-check", "/server/login-check", "/server/login-check"),
        ("/stats", "/stats", "/stats"),
        (None, "/whatever/the/client/sent", "/{unmatched}"),
    ],
)
def test_endpoint_label_is_a_template_never_the_raw_path(template, path, expected):
    assert endpoint_label(template, path) == expected


@pytest.mark.parametrize(
    "status, slug, upstream, expected",
    [
        (200, None, None, ("", "", "")),
        (302, None, None, ("", "", "")),
        (200, "auth-failed", "api_auth_unauthorized", ("", "", "")),  # success: always empty
        (401, "auth-failed", None, ("api", "auth", "unauthorized")),
        (502, "bad-gateway", None, ("api", "request", "unreachable")),
        (504, "gateway-timeout", None, ("api", "request", "timeout")),
        (503, "webserver/signer-unavailable", None, ("api", "request", "unavailable")),
        (500, "internal-server-error", None, ("backendai", "generic", "internal-error")),
        (404, None, "vfolder_access_not-found", ("vfolder", "access", "not-found")),  # the Manager's own code wins
        (404, "url-not-found", "vfolder_access_not-found", ("vfolder", "access", "not-found")),
        (404, None, "no underscores here", ("api", "request", "not-found")),  # malformed: by status
        (404, None, "a_b_c_d", ("api", "request", "not-found")),
        (404, None, "X_Y_Z", ("api", "request", "not-found")),
        (418, None, None, ("api", "request", "bad-request")),
        (503, None, None, ("backendai", "generic", "unavailable")),
        (599, None, None, ("backendai", "generic", "internal-error")),
        (429, "some-new-slug", None, ("api", "request", "bad-request")),
    ],
)
def test_error_labels(status, slug, upstream, expected):
    assert error_labels(status, slug, upstream) == expected


def test_error_labels_never_carry_long_upstream_text():
    assert error_labels(500, None, "a" * 50 + "_b_c") == ("backendai", "generic", "internal-error")


@pytest.mark.parametrize(
    "problem_type, slug",
    [
        ("https://api.backend.ai/probs/auth-failed", "auth-failed"),
        ("https://api.backend.ai/probs/webserver/signer-unavailable", "webserver/signer-unavailable"),
        ("https://evil.example/probs/auth-failed", None),
        (None, None),
        (42, None),
    ],
)
def test_problem_slug(problem_type, slug):
    assert problem_slug(problem_type) == slug


def test_error_info_reads_small_json_error_bodies_only():
    problem = web.Response(
        status=401,
        text=json.dumps({"type": "https://api.backend.ai/probs/auth-failed"}),
        content_type="application/problem+json",
    )
    assert error_info(problem) == ("auth-failed", None)
    upstream = web.Response(
        status=404,
        text=json.dumps({"type": "x", "error_code": "session_read_not-found"}),
        content_type="application/json",
    )
    assert error_info(upstream) == (None, "session_read_not-found")
    assert error_info(web.Response(status=200, text="{}", content_type="application/json")) == (None, None)
    login = {"authenticated": False, "data": {"type": "https://api.backend.ai/probs/auth-failed", "title": "x"}}
    assert error_info(web.Response(status=401, text=json.dumps(login), content_type="application/json")) == (
        "auth-failed",
        None,
    )
    assert error_info(web.Response(status=404, text="not json", content_type="application/json")) == (None, None)
    assert error_info(web.Response(status=404, text="[1]", content_type="application/json")) == (None, None)
    assert error_info(web.Response(status=404, text="<html>", content_type="text/html")) == (None, None)
    huge = web.Response(status=500, body=b'{"type": "' + b"x" * 20000 + b'"}', content_type="application/json")
    assert error_info(huge) == (None, None)
    assert error_info(web.StreamResponse(status=502)) == (None, None)
    assert error_info(None) == (None, None)


@pytest.mark.parametrize(
    "template, path, websocket, kind",
    [
        ("/server/login", "/server/login", False, "login"),
        ("/api/auth/logout", "/api/auth/logout", False, "logout"),
        ("/server/login-check", "/server/login-check", False, "login_check"),
        ("/func/{path}", "/func/auth", False, "proxy_api"),
        ("/func/{path}", "/func/stream/echo", True, "proxy_websocket"),
        ("/webapi/{deployment}/{path}", "/webapi/x/y", False, "proxy_api"),
        ("/config.toml", "/config.toml", False, "config"),
        ("/{tail}", "/", False, "webui"),
        ("/{tail}", "/session/list", False, "webui"),
        ("/{tail}", "/js/app.js", False, "static"),
        ("/stats", "/stats", False, "healthcheck"),
        ("/server/update-password-no-auth", "/server/update-password-no-auth", False, None),
    ],
)
def test_handler_kind(template, path, websocket, kind):
    assert handler_kind(template, path, websocket) == kind


def test_in_flight_stats_have_backend_ai_keys_and_count_enter_leave():
    counts = InFlight()
    counts.enter("login")
    counts.enter("proxy_api")
    counts.enter(None)
    counts.leave("login")
    doc = counts.stats(total_async_tasks=7)
    assert list(doc) == ["total_async_tasks", "total_active_handlers", *[f"active_{k}_handlers" for k in STATS_KINDS]]
    assert doc["total_async_tasks"] == 7 and doc["total_active_handlers"] == 2
    assert doc["active_proxy_api_handlers"] == 1 and doc["active_login_handlers"] == 0
    assert stats_text({"a": 1, "b": 2}) == "a: 1\nb: 2\n"


def test_agent_state_counts_list_every_state_of_every_group():
    from contract.etcd_layout import AgentRecord
    from contract.webapi import GroupsSnapshot

    def record(agent_id, group, state):
        return AgentRecord(agent_id, group, "ipc:///x", "h", 1, "0", state, 0.0)

    snapshot = GroupsSnapshot(
        agents={
            "a": record("a", "DEFAULT", "UP"),
            "b": record("b", "DEFAULT", "DOWN"),
            "c": record("c", "NOGROUP", "UP"),  # its group is not defined: still counted
        }
    )
    counts = agent_state_counts(snapshot)
    assert counts[("DEFAULT", "UP")] == 1 and counts[("DEFAULT", "DOWN")] == 1
    assert counts[("DEFAULT", "UNKNOWN")] == 0 and counts[("DEFAULT", "OUT_OF_SERVICE")] == 0
    assert counts[("NOGROUP", "UP")] == 1


@pytest.mark.parametrize(
    "method, label",
    [
        ("GET", "GET"),
        ("DELETE", "DELETE"),
        ("OPTIONS", "OPTIONS"),
        ("FOO", "OTHER"),
        ("get", "OTHER"),
        ("X" * 100, "OTHER"),
        ("PROPFIND", "OTHER"),
    ],
)
def test_method_label_is_bounded(method, label):
    assert method_label(method) == label


def _counts(instruments: Instruments) -> dict[tuple[str, ...], float]:
    """(method, endpoint, domain, operation, error_detail, status_code) -> requests counted."""
    found = {}
    for metric in instruments.registry.collect():
        for sample in metric.samples:
            if sample.name == "backendai_api_request_count_total":
                found[tuple(sample.labels[name] for name in API_LABELS)] = sample.value
    return found


def test_request_metrics_label_successes_by_route_and_errors_by_what_failed():
    # Successes are found by (method, route, status) after the first: each must still get its own series.
    instruments = Instruments()
    metrics = RequestMetrics(instruments)
    problem = web.json_response({"type": "https://api.backend.ai/probs/bad-gateway"}, status=502)
    problem.content_type = "application/problem+json"
    for _ in range(2):
        metrics.record("GET", "/func/{path}", "/func/a", 200, 0.01, None)
        metrics.record("BREW", "/func/{path}", "/func/a", 200, 0.01, None)
        metrics.record("POST", "/func/{path}", "/func/a", 201, 0.01, None)
        metrics.record("GET", "/{tail}", "/", 200, 0.01, None)
        metrics.record("GET", "/{tail}", "/app.js", 200, 0.01, None)
        metrics.record("GET", "/func/{path}", "/func/a", 502, 0.01, problem)
        metrics.record("GET", "/func/{path}", "/func/a", 404, 0.01, None)
    assert _counts(instruments) == {
        ("GET", "/api/func/{path}", "", "", "", "200"): 2,
        ("OTHER", "/api/func/{path}", "", "", "", "200"): 2,
        ("POST", "/api/func/{path}", "", "", "", "201"): 2,
        ("GET", "/", "", "", "", "200"): 2,
        ("GET", "/static/{path}", "", "", "", "200"): 2,
        ("GET", "/api/func/{path}", "api", "request", "unreachable", "502"): 2,
        ("GET", "/api/func/{path}", "api", "request", "not-found", "404"): 2,
    }


def test_generated_request_ids_are_16_hex_digits_and_never_repeat():
    ids = [new_request_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", each) for each in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_draws_other_request_ids_than_its_parent():
    # Front-door workers are forked from one parent: a generator state copied by the fork and not
    # reseeded would give every worker the same sequence of ids.
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writing, " ".join(new_request_id() for _ in range(8)).encode())
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    with os.fdopen(reading) as pipe:
        childs = set(pipe.read().split())
    parents = {new_request_id() for _ in range(8)}
    assert len(childs) == 8 and childs.isdisjoint(parents)
