"""One stack for the whole fault-injection suite (two front-door workers, two signers, WebSocket bounds
raised for the idle-WebSocket scenario) and the summary: one line per scenario, printed as it ends
and again at the end of the run."""

from __future__ import annotations

import os

import pytest

from tests.support.stack import RunningStack

# Idle WebSockets of the WebSocket scenario: 2,000 keeps CI within its time; FAULTS_WEBSOCKETS=10000
# gives the figure (bench/websockets.py measures it with memory per socket).
WEBSOCKETS = int(os.environ.get("FAULTS_WEBSOCKETS", "2000"))
LINES: list[str] = []


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    bounds = (
        f"\n[security]\nwebsocket_max_per_session = {WEBSOCKETS + 10}\nwebsocket_max_per_worker = {WEBSOCKETS + 10}\n"
    )
    running = RunningStack(tmp_path_factory.mktemp("faults"), extra_config=bounds, workers=2, signers=2).start()
    running.base_text = running.config_path.read_text()
    yield running
    running.stop()


@pytest.fixture
def report(capsys):
    def emit(line: str) -> None:
        LINES.append(line)
        with capsys.disabled():
            print(f"\n[fault] {line}")

    return emit


def pytest_terminal_summary(terminalreporter):
    if LINES:
        terminalreporter.section("fault injection under load: one line per scenario")
        for line in LINES:
            terminalreporter.write_line(line)
