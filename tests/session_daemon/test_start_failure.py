"""A session daemon whose start fails (after its socket is bound) exits at once, non-zero, with one
``startup_failed`` line, its socket closed (real entry).  Before: a traceback on stderr, no log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.failing_start import INJECTED, background_failures, host_config, start_failing, startup_failures


@pytest.fixture(scope="module")
def config() -> Path:
    with host_config() as path:
        yield path


def test_a_failed_start_exits_with_one_clear_line(config: Path):
    code, lines = start_failing("session_daemon.service:ManagerClient.start", "session_daemon", config)
    assert code == 1
    [failure] = startup_failures(lines)
    assert failure["error"] == INJECTED and failure["error_type"] == "RuntimeError"


def test_a_loop_that_dies_once_it_runs_ends_the_process(config: Path):
    """Before: the gauge's loop died and the daemon went on, unnoticed (killed at the test's bound)."""
    code, lines = start_failing("session_daemon.service:SessionDaemon._count_sessions@later", "session_daemon", config)
    assert code == 1
    [failure] = background_failures(lines)
    assert failure["task"] == "active-sessions gauge" and failure["error_type"] == "RuntimeError"
    assert INJECTED not in str(failure)  # the type and where, never the message (it may hold a value)
    assert failure["raised_at"].startswith("failing_start.py:")
    assert not startup_failures(lines)
