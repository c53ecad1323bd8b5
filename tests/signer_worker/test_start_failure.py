"""A signer whose start fails exits at once, non-zero, with one ``startup_failed`` line (real entry).

Before: a failure in its build left its ROUTER socket open on a live context (the next full collection
hung in the context's ``term()``), and a bind that failed (an ipc path too long for a Unix socket: a
long ``--agent-id``) ended only its background task: the signer sat there, DOWN, for ever.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.failing_start import (
    INJECTED,
    NOTHING,
    background_failures,
    host_config,
    start_failing,
    startup_failures,
)


@pytest.fixture(scope="module")
def config() -> Path:
    with host_config() as path:
        yield path


def test_a_failed_build_exits_with_one_clear_line(config: Path):
    code, lines = start_failing("signer_worker.service:AgentRegistration", "signer_worker", config)
    assert code == 1
    [failure] = startup_failures(lines)
    assert failure["error"] == INJECTED and failure["error_type"] == "RuntimeError"


def test_a_bind_that_fails_after_start_ends_the_process(config: Path):
    code, lines = start_failing(NOTHING, "signer_worker", config, "--agent-id", "a" * 120)
    assert code == 1
    [failure] = startup_failures(lines)
    assert failure["error_type"] == "ZMQError" and "longer than" in failure["error"]


def test_a_loop_that_dies_once_it_runs_ends_the_process(config: Path):
    """Before: the signer went on without its readiness reports, its state in etcd frozen (killed at the bound)."""
    target = "signer_worker.service:SignerService._report_readiness@later"
    code, lines = start_failing(target, "signer_worker", config)
    assert code == 1
    [failure] = background_failures(lines)
    assert failure["task"] == "readiness reports" and failure["error_type"] == "RuntimeError"
    assert not startup_failures(lines)
