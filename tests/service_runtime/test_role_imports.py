"""Each process loads what its role uses: imports are most of a process's start time and memory."""

from __future__ import annotations

from tests.support.imports import modules_loaded_by, packages


def test_a_signer_loads_no_http_framework():
    # The skeleton's logging filter scrubs aiohttp's parser errors; a signer serves no HTTP and has none.
    loaded = packages(modules_loaded_by("service_runtime.process", "signer_worker.service"))
    assert "aiohttp" not in loaded
    assert "jinja2" not in loaded


def test_no_process_loads_the_opentelemetry_metrics_sdk():
    # redis-py would load it for OTel metrics of its own, which nothing here turns on.
    loaded = modules_loaded_by("service_runtime.process", "signer_worker.service", "frontdoor.lifecycle")
    assert "redis.asyncio" in loaded
    assert not any(name.startswith("opentelemetry.sdk.metrics") for name in loaded)
