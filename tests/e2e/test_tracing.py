"""[otel] end to end: the spans of one proxied request reach a real OTLP/HTTP receiver, linked by one
trace id that the Manager received too; with tracing off nothing is exported and no traceparent invented."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.e2e.conftest import log_in
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.polling import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.slow

BROWSER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
BROWSER_PARENT = f"00-{BROWSER_TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
async def receiver():
    started = await OtlpReceiver().start()
    yield started
    await started.stop()


async def _stack(tmp_path, receiver: OtlpReceiver, enabled: bool) -> RunningStack:
    extra = f'[otel]\nenabled = {"true" if enabled else "false"}\nendpoint = "{receiver.endpoint}"\n'
    stack = RunningStack(tmp_path, extra_config=extra, signers=1, service_extra='trusted_proxies = ["127.0.0.1"]')
    # In a thread: the receiver answers on this loop while the stack starts (its readiness calls are traced).
    return await asyncio.to_thread(stack.start)


async def _echo(stack: RunningStack, request_id: str, headers: dict[str, str]) -> tuple[dict, str]:
    """One proxied, signed call that the Manager answers with the headers it received; and our cookie."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=jar) as session:
        await log_in(session)
        cookie = next(c.value for c in jar if c.key == stack.config.session.cookie_name)
        async with session.get(
            "/func/dev/echo-headers/traced?q=secret-query", headers={"X-Request-ID": request_id, **headers}
        ) as response:
            assert response.status == 200, await response.text()
            assert response.headers["X-Request-ID"] == request_id
            return await response.json(), cookie


async def test_one_proxied_request_is_one_trace_across_front_door_signer_and_manager(tmp_path, receiver):
    stack = await _stack(tmp_path, receiver, enabled=True)
    try:
        # From a trusted proxy (127.0.0.1 here) the incoming traceparent parents the front door's span.
        echoed, cookie = await _echo(stack, "trace-e2e-1", {"traceparent": BROWSER_PARENT, "tracestate": "edge=1"})
        sent = {name.lower(): value for name, value in echoed["headers"].items()}
        assert sent["x-request-id"] == "trace-e2e-1"
        version, trace_id, manager_parent, flags = sent["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", BROWSER_TRACE_ID, "01")
        assert sent["tracestate"] == "edge=1"

        def whole_trace():
            spans = receiver.trace(trace_id)
            names = {(span.service, span.kind, span.name) for span in spans}
            assert {
                ("webui-host-frontdoor", "server", "GET /func/{path}"),
                ("webui-host-frontdoor", "client", "signer/sign"),
                ("webui-host-signer_worker", "server", "signer/sign"),
                ("webui-host-frontdoor", "client", "GET manager"),
            } <= names, names
            return spans

        spans = await eventually(whole_trace, timeout=30, what="the request's spans at the receiver")

        def logged_trace_ids():  # the request's log line names its trace
            lines = [
                json.loads(line)
                for path in (stack.config.runtime.state_dir / "logs").glob("frontdoor*.log")
                for line in path.read_text().splitlines()
                if '"trace-e2e-1"' in line
            ]
            return [entry.get("trace_id") for entry in lines if entry.get("event") == "proxy_request"]

        assert await eventually(logged_trace_ids, timeout=10, what="the request's log line") == [trace_id]
    finally:
        await asyncio.to_thread(stack.stop)

    by_name = {(span.service, span.kind, span.name): span for span in spans}
    server = by_name["webui-host-frontdoor", "server", "GET /func/{path}"]
    sign = by_name["webui-host-frontdoor", "client", "signer/sign"]
    signer = by_name["webui-host-signer_worker", "server", "signer/sign"]
    upstream = by_name["webui-host-frontdoor", "client", "GET manager"]
    assert server.parent_span_id == "00f067aa0ba902b7"  # the trusted proxy's span
    assert sign.parent_span_id == upstream.parent_span_id == server.span_id
    assert signer.parent_span_id == sign.span_id  # carried over ZeroMQ in the signing item
    assert manager_parent == upstream.span_id  # what the Manager got is the upstream call's span
    assert server.attributes["http.route"] == "/func/{path}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["webui_host.deployment"] == "manager"
    assert server.attributes["webui_host.request_id"] == "trace-e2e-1"
    assert upstream.attributes["http.response.status_code"] == 200
    assert signer.attributes["webui_host.sign.result"] == "signed"
    assert server.resource["service.version"]

    # Nothing secret or user-chosen in any span of the trace: no cookie, signature, key, path or query.
    authorization = sent["authorization"]
    credential = authorization.split("credential=", 1)[1]
    access_key, signature = credential.split(":", 1)
    forbidden = [cookie, authorization, access_key, signature, "echo-headers", "secret-query"]
    for span in spans:
        text = repr(span.attributes)
        assert not [secret for secret in forbidden if secret in text], (span.name, span.attributes)


async def test_with_otel_off_nothing_is_exported_and_no_traceparent_invented(tmp_path, receiver):
    stack = await _stack(tmp_path, receiver, enabled=False)
    try:
        echoed, _cookie = await _echo(stack, "trace-off-1", {})
        sent = {name.lower() for name in echoed["headers"]}
        assert "traceparent" not in sent and "tracestate" not in sent
        # The browser's own is not passed on either: trace context comes from our spans only.
        echoed, _cookie = await _echo(stack, "trace-off-2", {"traceparent": BROWSER_PARENT})
        forwarded = {name.lower(): value for name, value in echoed["headers"].items()}
        assert "traceparent" not in forwarded and forwarded["x-request-id"] == "trace-off-2"
    finally:
        await asyncio.to_thread(stack.stop)  # a tracing process exports what it still holds when it stops
    assert receiver.requests == 0 and receiver.spans == []
