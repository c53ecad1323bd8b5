"""``service_runtime.tracing``: off is free (nothing of OpenTelemetry is imported, no span, no header);
on, spans reach a real OTLP/HTTP receiver, and a stopping process exports what it still holds."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy

from contract.config import parse_config
from frontdoor.context import FrontDoor
from frontdoor.trusted_proxies import TrustedProxies
from frontdoor.upstream import upstream_headers
from service_runtime.tracing import NO_TRACING, Tracing, start_tracing
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.paths import REPO_ROOT

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

OFF_PROBE = """
import sys
from contract.config import parse_config
import frontdoor.proxy, signer_worker.service  # the traced code paths
from service_runtime.tracing import NO_TRACING, NULL_SPAN, start_tracing

tracing = start_tracing(parse_config({"otel": {"endpoint": "http://127.0.0.1:9"}}).otel, "frontdoor")
assert tracing is NO_TRACING and not tracing.enabled
with tracing.server_span("GET /func/{path}", {}, {"traceparent": "%s"}) as span:
    assert span is NULL_SPAN
    with tracing.client_span("signer/sign", {}) as inner:
        assert inner is NULL_SPAN
        assert dict(tracing.propagation_headers()) == {}
tracing.remote_span("signer/sign", {"traceparent": "%s"}, 1, {})
# redis-py imports OpenTelemetry's metrics API when it is installed (its own opt-in observability); the
# tracing SDK, the exporter and the propagator are ours alone and stay unloaded.
loaded = sorted(name for name in sys.modules if name.startswith(
    ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.trace.propagation.tracecontext",
     "requests")))
assert not loaded, loaded
print("ok")
""" % (PARENT, PARENT)


def test_off_imports_nothing_of_opentelemetry_and_makes_no_span():
    done = subprocess.run([sys.executable, "-c", OFF_PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


async def test_on_spans_reach_the_receiver_and_close_exports_the_rest():
    receiver = await OtlpReceiver().start()
    try:
        otel = parse_config({"otel": {"enabled": True, "endpoint": receiver.endpoint}}).otel
        tracing = start_tracing(otel, "frontdoor", 3)
        assert isinstance(tracing, Tracing)
        with tracing.server_span("GET /func/{path}", {"http.route": "/func/{path}"}) as server:
            with tracing.client_span("signer/sign", {}):
                sent = dict(tracing.propagation_headers())
            tracing.http_status(server, 502, server=True)
        tracing.remote_span("signer/sign", sent, 1, {"webui_host.sign.result": "signed"})
        with tracing.server_span("GET /func/{path}", {}, {"traceparent": "not-a-traceparent"}):
            pass
        await tracing.aclose()  # the batch's schedule has not come yet: this exports them
        assert len(receiver.spans) == 4, receiver.spans
        client, root, remote, fresh = receiver.spans  # in the order they ended
        assert root.parent_span_id == "" and client.parent_span_id == root.span_id
        assert sent["traceparent"].startswith(f"00-{client.trace_id}-{client.span_id}-")  # flags: sampled (+ random)
        assert (remote.trace_id, remote.parent_span_id) == (client.trace_id, client.span_id)
        assert fresh.trace_id != root.trace_id and fresh.parent_span_id == ""  # a bad parent is no parent
        assert root.attributes["error.type"] == "502" and root.status_code == 2  # STATUS_CODE_ERROR
        assert root.resource["service.name"] == "webui-host-frontdoor"
        assert root.resource["service.instance.name"].endswith("-frontdoor-3")
    finally:
        await receiver.stop()


def _request_from(peer: str, headers: dict[str, str] | None = None):
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 1234) if name == "peername" else default
    return make_mocked_request("GET", "/func/x", headers=headers or {}, transport=transport)


@pytest.mark.parametrize(
    ("policy", "peer", "trusted"),
    [
        ("trusted_proxies", "10.1.2.3", True),
        ("trusted_proxies", "192.0.2.7", False),  # a browser: its traceparent does not parent our span
        ("never", "10.1.2.3", False),
        ("always", "192.0.2.7", True),
    ],
)
def test_whose_traceparent_is_honoured(policy, peer, trusted):
    front = SimpleNamespace(
        config=parse_config({"otel": {"trust_traceparent": policy}}), trusted_proxies=TrustedProxies(["10.0.0.0/8"])
    )
    assert FrontDoor.trusts_traceparent(front, _request_from(peer)) is trusted


def test_upstream_gets_our_request_id_and_trace_context_never_the_browsers():
    incoming = CIMultiDictProxy(CIMultiDict({"traceparent": PARENT, "tracestate": "x=1", "X-Request-ID": "b"}))
    common = dict(
        api_version="v7",
        domain="default",
        host="m",
        client_ip="192.0.2.7",
        scheme="http",
        withheld_cookies={"aiohttp_session"},
        signed={"Authorization": "sig"},
    )
    off = upstream_headers(incoming, **common, request_id="req-1")
    assert off["X-Request-ID"] == "req-1" and "traceparent" not in off and "tracestate" not in off
    ours = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    on = upstream_headers(incoming, **common, request_id="req-1", trace={"traceparent": ours})
    assert on["traceparent"] == ours and "tracestate" not in on
    assert NO_TRACING.propagation_headers() == {}
