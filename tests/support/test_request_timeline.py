"""The browser tests' request timeline, without a browser: what it reports for a stalled page."""

from __future__ import annotations

from tests.support.request_timeline import RequestTimeline

BASE = "http://127.0.0.1:8090"


def timeline_with_clock() -> tuple[RequestTimeline, list[float]]:
    ticks = [100.0]
    return RequestTimeline(BASE, clock=lambda: ticks[0]), ticks


def test_the_report_names_the_request_a_stalled_page_still_waits_on():
    timeline, ticks = timeline_with_clock()
    timeline.now()
    ticks[0] = 101.0
    timeline.started("login", "POST", f"{BASE}/server/login")
    timeline.answered("login", 200, 12.0)
    timeline.mark("login answered")
    timeline.started("gql", "POST", f"{BASE}/func/admin/gql")
    ticks[0] = 121.5
    report = timeline.report()
    assert "1.00s  -- login answered" in report
    assert "POST /server/login -> 200 in 12 ms" in report
    assert "1.00s  POST /func/admin/gql -> NO ANSWER after 20500 ms" in report
    assert [exchange.path for exchange in timeline.pending()] == ["/func/admin/gql"]


def test_static_successes_are_left_out_but_their_failures_and_errors_are_not():
    timeline, ticks = timeline_with_clock()
    for key, path in enumerate(("/assets/a.js", "/assets/b.js", "/func/totp")):
        timeline.started(key, "GET", f"{BASE}{path}")
    timeline.answered(0, 200)
    timeline.failed(1, "net::ERR_CONNECTION_RESET")
    ticks[0] = 100.25
    timeline.answered(2, 404)
    timeline.console_errors.append("Failed to load resource: 404")
    report = timeline.report()
    assert "/assets/a.js" not in report
    assert "GET /assets/b.js -> net::ERR_CONNECTION_RESET in 0 ms" in report
    assert "GET /func/totp -> 404 in 250 ms" in report
    assert report.endswith("console error: Failed to load resource: 404")


def test_the_report_can_start_at_a_moment():
    timeline, ticks = timeline_with_clock()
    timeline.started("early", "GET", f"{BASE}/func/")
    timeline.answered("early", 200)
    ticks[0] = 105.0
    timeline.started("still open", "GET", f"{BASE}/func/folders")
    ticks[0] = 106.0
    since = timeline.now()
    timeline.mark("login answered")
    timeline.started("late", "POST", f"{BASE}/server/login-check")
    timeline.answered("late", 200)
    lines = timeline.report(since=since).splitlines()
    assert not [line for line in lines if "GET /func/ " in line]
    assert lines[0].endswith("GET /func/folders -> NO ANSWER after 1000 ms")  # older, but never answered
    assert lines[1].endswith("-- login answered") and "POST /server/login-check -> 200" in lines[2]
