"""Multiprocess metrics: separate real processes, one exposition; restarts keep counters monotonic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service_runtime.metrics import process_identifier, wipe_metrics_dir

WRITER = """
import sys
from pathlib import Path
from service_runtime.metrics import Metrics
metrics = Metrics.enable(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
metrics.instruments.logins.labels("success").inc(int(sys.argv[4]))
metrics.instruments.open_websockets.set(int(sys.argv[5]))
if sys.argv[6] == "clean-exit":
    metrics.forget_own_live_gauges()
"""

READER = """
import sys
from pathlib import Path
from service_runtime.metrics import Metrics
sys.stdout.write(Metrics.enable(Path(sys.argv[1]), "reader", 0).render()[0].decode())
"""


def run(script: str, *args: str, env: dict | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_processes_are_summed_and_a_restart_continues_its_counters(tmp_path: Path):
    run(WRITER, str(tmp_path), "frontdoor", "0", "2", "3", "crash")
    run(WRITER, str(tmp_path), "frontdoor", "1", "5", "4", "crash")
    text = run(READER, str(tmp_path))
    assert sample(text, 'webui_host_logins_total{result="success"}') == 7
    assert sample(text, "webui_host_open_websockets") == 7
    # frontdoor-1 restarts: its counter continues from 5, its old live gauge is not summed again.
    run(WRITER, str(tmp_path), "frontdoor", "1", "1", "1", "crash")
    text = run(READER, str(tmp_path))
    assert sample(text, 'webui_host_logins_total{result="success"}') == 8
    assert sample(text, "webui_host_open_websockets") == 4
    # A clean exit takes its live gauges out of the sums; counters stay.
    run(WRITER, str(tmp_path), "frontdoor", "0", "0", "9", "clean-exit")
    text = run(READER, str(tmp_path))
    assert sample(text, "webui_host_open_websockets") == 1
    assert sample(text, 'webui_host_logins_total{result="success"}') == 8


def test_the_environment_wins_over_the_state_dir(tmp_path: Path):
    elsewhere = tmp_path / "shared"
    run(WRITER, str(tmp_path / "a"), "signer", "0", "3", "0", "crash", env={"PROMETHEUS_MULTIPROC_DIR": str(elsewhere)})
    assert any(elsewhere.glob("counter_signer-0.db"))
    assert "webui_host_logins_total" in run(
        READER, str(tmp_path / "b"), env={"PROMETHEUS_MULTIPROC_DIR": str(elsewhere)}
    )


@pytest.mark.parametrize(
    "role, instance, expected",
    [
        ("frontdoor", 0, "frontdoor-0"),
        ("signer_worker", "3", "signer-worker-3"),
        ("session_daemon", 0, "session-daemon-0"),
    ],
)
def test_process_identifier_has_no_underscore(role, instance, expected):
    assert process_identifier(role, instance) == expected


@pytest.mark.parametrize("role", ["a/b", "x" * 70, "", "spa ce"])
def test_process_identifier_refuses_what_cannot_name_a_file(role):
    with pytest.raises(ValueError):
        process_identifier(role, 0)


def test_wipe_leaves_an_empty_private_directory(tmp_path: Path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_old-0.db").write_bytes(b"x")
    wipe_metrics_dir(tmp_path)
    assert list((tmp_path / "metrics").iterdir()) == []
    assert (tmp_path / "metrics").stat().st_mode & 0o777 == 0o700
