"""A front door whose start fails exits at once, non-zero, with one ``startup_failed`` line: through its
real entry (``python -m frontdoor``'s ``main``), with a failure injected after its ZeroMQ sockets exist.

Before, a failure in ``build_app`` left the session-daemon client's and the signer pool's sockets open
on a live context: the next full collection hung in the context's ``term()`` (the child of
``tests.support.failing_start`` collects after ``main``, as a later collection would), and a failure
in ``start`` left the clients to warn "Unclosed client session" at exit, with a traceback, no log line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.failing_start import INJECTED, background_failures, host_config, start_failing, startup_failures


@pytest.fixture(scope="module")
def config() -> Path:
    with host_config() as path:
        # No signer here: a front door waits this long for one before it listens (the default is 10 s).
        path.write_text(path.read_text() + "[signers]\npool_wait = 1\n")
        yield path


@pytest.mark.parametrize(
    "target",
    [
        "frontdoor.static:StaticFiles.for_config",  # build_app, after the daemon client and signer pool
        "frontdoor.lifecycle:tls_context",  # the Worker, after build_app returned
        "frontdoor.lifecycle:HeaderDeadlines.install",  # start, after the app's followers started
    ],
)
def test_a_failed_start_exits_with_one_clear_line(config: Path, target: str):
    code, lines = start_failing(target, "frontdoor", config, "--worker", "0")
    assert code == 1
    [failure] = startup_failures(lines)
    assert failure["level"] == "error" and failure["error"] == INJECTED and failure["error_type"] == "RuntimeError"
    # Everything it made was closed by the start itself, none left to the collector or to exit.
    assert not [line for line in lines if "Unclosed" in line.get("msg", "")]


def test_a_loop_that_dies_once_it_runs_ends_the_process(config: Path):
    """Before: the front door went on without health probes (killed at the test's bound).  The loop dies
    while the start waits for a signer (none here; ``pool_wait`` of 1 s): the process ends after it."""
    code, lines = start_failing("frontdoor.app:probe_forever@later", "frontdoor", config, "--worker", "0")
    assert code == 1
    [failure] = background_failures(lines)
    assert failure["task"] == "upstream probes" and failure["error_type"] == "RuntimeError"
    assert not startup_failures(lines)
    assert not [line for line in lines if "Unclosed" in line.get("msg", "")]
