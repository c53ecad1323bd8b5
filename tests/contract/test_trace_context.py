"""The W3C trace context a signing request may carry over ZeroMQ: optional, and strictly validated."""

from __future__ import annotations

import pytest

from contract.config import ConfigError, parse_config
from contract.requests import SigningRequest

BASE = {
    "rid": 1,
    "session_id": "s",
    "method": "GET",
    "target": "/x",
    "host": "m:8091",
    "content_type": "application/json",
    "api_version": "v7.20230615",
}
GOOD_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

GOOD_TRACEPARENTS = [
    GOOD_PARENT,
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",  # not sampled is still a context
    "00-00000000000000000000000000000001-0000000000000001-ff",
]
BAD_TRACEPARENTS = [
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # a version we do not write
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  # short parent id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
    " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-01",  # not hex
    "x" * 10000,
    17,
    None,
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
]
GOOD_TRACESTATES = [
    "rojo=00f067aa0ba902b7",
    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE",
    "tenant1@vendor=x",
    ",".join(f"k{i}=v" for i in range(32)),
]
BAD_TRACESTATES = [
    "no-equals-sign",
    "Upper=case-key",
    "a=b,a=c",  # a key twice
    "a=",  # empty value
    "a=b=c",
    "a=b\tc",
    "a=b\n",
    ",".join(f"k{i}=v" for i in range(33)),  # too many members
    "a=" + "x" * 600,  # too long
    "a=b\r\nX-Injected: 1",
    7,
]


@pytest.mark.parametrize("traceparent", GOOD_TRACEPARENTS)
def test_a_w3c_traceparent_of_version_00_is_carried(traceparent):
    request = SigningRequest.from_item({**BASE, "traceparent": traceparent})
    assert request.traceparent == traceparent
    assert SigningRequest.from_item(request.to_item()) == request


@pytest.mark.parametrize("traceparent", BAD_TRACEPARENTS)
def test_anything_else_in_traceparent_refuses_the_item(traceparent):
    with pytest.raises(ValueError, match="traceparent"):
        SigningRequest.from_item({**BASE, "traceparent": traceparent})


@pytest.mark.parametrize("tracestate", GOOD_TRACESTATES)
def test_a_w3c_tracestate_comes_with_its_traceparent(tracestate):
    request = SigningRequest.from_item({**BASE, "traceparent": GOOD_PARENT, "tracestate": tracestate})
    assert (request.traceparent, request.tracestate) == (GOOD_PARENT, tracestate)
    assert SigningRequest.from_item(request.to_item()) == request


@pytest.mark.parametrize("tracestate", BAD_TRACESTATES)
def test_a_malformed_tracestate_refuses_the_item(tracestate):
    with pytest.raises(ValueError, match="tracestate"):
        SigningRequest.from_item({**BASE, "traceparent": GOOD_PARENT, "tracestate": tracestate})


def test_a_tracestate_without_traceparent_is_refused():
    with pytest.raises(ValueError, match="tracestate"):
        SigningRequest.from_item({**BASE, "tracestate": "rojo=00f067aa0ba902b7"})


def test_without_tracing_the_item_carries_no_trace_fields():
    """Absent and empty are the same (a front door with [otel] off, or of an older version)."""
    for item in (BASE, {**BASE, "traceparent": "", "tracestate": ""}):
        request = SigningRequest.from_item(item)
        assert request.traceparent == request.tracestate == ""
        assert "traceparent" not in request.to_item() and "tracestate" not in request.to_item()


def test_otel_section_takes_backend_ai_keys():
    config = parse_config(
        {
            "otel": {
                "enabled": True,
                "log-level": "warn",
                "endpoint": "http://collector:4318",
                "max-queue-size": 100,
                "max-export-batch-size": 10,
            }
        }
    )
    otel = config.otel
    assert (otel.enabled, otel.log_level, otel.max_queue_size, otel.max_export_batch_size) == (True, "WARNING", 100, 10)
    assert otel.traces_url == "http://collector:4318/v1/traces"
    assert parse_config({"otel": {"endpoint": "https://c:4318/"}}).otel.traces_url == "https://c:4318/v1/traces"
    assert parse_config({"otel": {"endpoint": "http://c/otlp/v1/traces"}}).otel.traces_url == "http://c/otlp/v1/traces"
    # Backend.AI's samples write host:port: read as an OTLP/HTTP base URL.
    assert parse_config({"otel": {"endpoint": "collector:4318"}}).otel.traces_url == "http://collector:4318/v1/traces"
    defaults = parse_config({}).otel
    assert not defaults.enabled and defaults.trust_traceparent == "trusted_proxies"


@pytest.mark.parametrize(
    "otel",
    [
        {"endpoint": "ftp://collector:4318"},
        {"endpoint": "collector:4318 x"},
        {"log_level": "LOUD"},
        {"max_queue_size": 0},
        {"max_queue_size": 10, "max_export_batch_size": 11},
        {"trust_traceparent": "sometimes"},
    ],
)
def test_otel_section_refuses_nonsense(otel):
    with pytest.raises(ConfigError, match="otel"):
        parse_config({"otel": otel})
