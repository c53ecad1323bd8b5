"""A session daemon whose start fails (after its socket is bound) exits at once, non-zero, with one
``startup_failed`` line, its socket closed (real entry).  Before: a traceback on stderr, no log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.failing_start import INJECTED, host_config, start_failing, startup_failures


@pytest.fixture(scope="module")
def config() -> Path:
    with host_config() as path:
        yield path


def test_a_failed_start_exits_with_one_clear_line(config: Path):
    code, lines = start_failing("session_daemon.service:ManagerClient.start", "session_daemon", config)
    assert code == 1
    [failure] = startup_failures(lines)
    assert failure["error"] == INJECTED and failure["error_type"] == "RuntimeError"
