"""The harness end to end on the webui-host side (the original webserver's pip install is left out):
about a second per row, so that it does not rot; its table must parse and it must stop everything
it started, also when interrupted."""

import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from bench.measure import DIRECT
from bench.processes import kind_of
from bench.report import leading_number, parse_markdown_tables
from tests.support.polling import eventually_sync
from tests.support.stack import VENV_BIN

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# 2 front doors, 2 signers, the session daemon and supervisord (which `webui-host run` becomes).
OWN_PROCESSES = 6


def interruptible() -> None:
    """SIGINT as at a terminal: a test run started in the background (``cmd &`` in a script) has it
    ignored, its children inherit that, and a Python started so keeps ignoring it (as it should)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Harness:
    """``python -m bench.compare`` as run.sh runs it, with every descendant it ever had remembered."""

    def __init__(self, tmp_path: Path, *args: str):
        self.stdout_path, self.stderr_path = tmp_path / "stdout", tmp_path / "stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "python"), "-m", "bench.compare", *args],
                cwd=ROOT,
                stdout=out,
                stderr=err,
                preexec_fn=interruptible,
            )
        self.seen: dict[int, psutil.Process] = {}

    def remember_descendants(self) -> list[psutil.Process]:
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            self.seen.setdefault(child.pid, child)
        return children

    def kinds_running(self) -> set[str]:
        kinds = set()
        for child in self.remember_descendants():
            try:
                kinds.add(kind_of(" ".join(child.cmdline())))
            except psutil.Error:
                continue
        return kinds

    def exited(self) -> bool:
        self.remember_descendants()
        return self.process.poll() is not None

    def wait(self, timeout: float) -> int:
        try:
            eventually_sync(self.exited, timeout=timeout, interval=0.2, what="the harness to exit")
        except AssertionError as exc:  # what it was doing, and which of its processes were still there
            raise AssertionError(f"{exc}\nstill running: {self.still_running()}\noutput:\n{self.output()}") from None
        return self.process.returncode

    def still_running(self) -> list[str]:
        alive = []
        for process in self.leftovers():
            try:
                alive.append(f"{process.pid} {process.status()} {' '.join(process.cmdline())[:160]}")
            except psutil.Error:
                continue
        return alive

    def leftovers(self) -> list[psutil.Process]:
        alive = []
        for process in self.seen.values():
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                continue
        return alive

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for process in self.leftovers():
            process.kill()


@pytest.fixture
def harness_factory(tmp_path):
    started: list[Harness] = []

    def start(*args: str) -> Harness:
        harness = Harness(tmp_path, *args)
        started.append(harness)
        return harness

    yield start
    for harness in started:  # only if a test failed midway
        harness.kill()


def test_compare_prints_a_table_that_parses_and_stops_everything(harness_factory):
    harness = harness_factory("compare", "--servers", "direct,webui-host", "--duration", "1", "--warmup", "1")
    assert harness.wait(timeout=240) == 0, harness.output()
    tables = parse_markdown_tables(harness.stdout_path.read_text())
    assert len(tables) == 2, harness.output()
    comparison = {row[""]: row for row in tables[0]}
    for count in (1, 16, 64):
        for server in (DIRECT, "webui-host"):
            assert leading_number(comparison[f"c={count} req/s"][server]) > 0
            p50 = leading_number(comparison[f"c={count} p50 / p99 ms"][server])
            assert 0 < p50 < 5000
            assert leading_number(comparison[f"c={count} CPU ms per request (+ Redis/etcd)"][server]) > 0
        assert "% of direct" in comparison[f"c={count} req/s"]["webui-host"]
        assert comparison[f"c={count} errors: non-2xx / socket"]["webui-host"] == "0 / 0"
        assert leading_number(comparison[f"c={count} upstream calls / CPU ms per proxied request"]["webui-host"]) >= 1
    assert 0 < leading_number(comparison["first proxied answer after start"]["webui-host"]) < 120
    assert comparison["peak RSS, own processes (count)"]["webui-host"].endswith(f"({OWN_PROCESSES})")
    assert leading_number(comparison["peak RSS, its Redis/etcd"]["webui-host"]) > 0
    kinds = {row["process kind"] for row in tables[1] if row["server"] == "webui-host"}
    assert kinds == {"frontdoor", "signer", "session_daemon", "supervisord", "redis-server (store)", "etcd (store)"}
    assert "Command: `python -m bench.compare compare" in harness.stdout_path.read_text()
    assert harness.seen, "no process of the harness was ever seen"
    assert harness.leftovers() == []


def test_scaling_prints_a_line_per_setting_and_stops_everything(harness_factory):
    harness = harness_factory("scaling", "--grid", "--workers", "1", "--signers", "1", "--duration", "1")
    assert harness.wait(timeout=240) == 0, harness.output()
    scaling, per_process = parse_markdown_tables(harness.stdout_path.read_text())
    assert [(row["front doors"], row["signers"], row["c"]) for row in scaling] == [
        ("direct upstream", "-", "16"),
        ("direct upstream", "-", "64"),
        ("1", "1", "16"),
        ("1", "1", "64"),
    ]
    assert all(leading_number(row["req/s"]) > 0 and row["errors"] == "0" for row in scaling)
    assert scaling[2]["peak RSS (count)"].endswith("(4)")  # 1 front door, 1 signer, the daemon, supervisord
    assert {row["server"] for row in per_process} == {"webui-host 1x1"}
    assert harness.leftovers() == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_what_it_started(harness_factory, signum):
    harness = harness_factory("compare", "--servers", "webui-host", "--duration", "30")
    eventually_sync(
        lambda: "frontdoor" in harness.kinds_running() or harness.process.poll() is not None,
        timeout=120,
        interval=0.2,
        what="the webui-host stack to run",
    )
    assert harness.process.poll() is None, harness.output()
    harness.remember_descendants()
    harness.process.send_signal(signum)
    assert harness.wait(timeout=90) != 0
    assert harness.leftovers() == []
    assert len(harness.seen) >= OWN_PROCESSES
