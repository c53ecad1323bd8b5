"""The wrapper every program starts through: a later worker of a pool execs once a front door listens
(its TCP target accepts), or after the bound; the first at once.  Real sockets, the wrapper run as the
conf runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.polling import eventually_sync
from webui_host import parent_bound
from webui_host.parent_bound import LATER_WORKER_WAIT, parse, tcp_accepts

WRAPPER = Path(parent_bound.__file__)
PRINT_START = "import time; print('started', time.time(), flush=True)"


def bound_not_listening() -> socket.socket:
    """A port that refuses connections and stays ours: a front door that has bound and does not listen
    yet (it listens once a signer is connected to it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def front_door_target(sock: socket.socket) -> str:
    return f"tcp-connect:127.0.0.1:{sock.getsockname()[1]}"


def run_wrapper(*options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(WRAPPER), *options, "--", sys.executable, "-c", PRINT_START],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outputs(process: subprocess.Popen) -> tuple[list[dict], float]:
    """(the wrapper's JSON lines, the time the command started)."""
    out, err = process.communicate(timeout=LATER_WORKER_WAIT + 20)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[-1].startswith("started"), out
    return [json.loads(line) for line in lines[:-1]], float(lines[-1].split()[1])


def still_waiting(process: subprocess.Popen, launched: float, for_at_least: float) -> bool:
    """The wrapper has not exec'd its command (its own command line) ``for_at_least`` seconds after it
    was launched (``time.monotonic()``): it is in its wait, not merely slow to start (~20 ms)."""
    assert str(WRAPPER) in psutil.Process(process.pid).cmdline(), "the wrapper exec'd its command without waiting"
    return time.monotonic() - launched >= for_at_least


def test_a_tcp_listener_accepts_once_listening_on_either_family():
    for family, host, address in ((socket.AF_INET, "127.0.0.1", "127.0.0.1"), (socket.AF_INET6, "::1", "[::1]")):
        with socket.socket(family) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            assert not tcp_accepts(f"{address}:{port}")  # bound, not listening
            sock.listen()
            assert tcp_accepts(f"{address}:{port}")


def test_arguments():
    assert parse(["--", "cmd", "-x"]) == (0, [], ["cmd", "-x"])
    assert parse(["cmd"]) == (0, [], ["cmd"])
    options = ["--worker", "2", "--after", "tcp-connect:127.0.0.1:8090", "--after", "tcp-connect:[::1]:8090"]
    assert parse([*options, "--", "cmd"]) == (2, ["tcp-connect:127.0.0.1:8090", "tcp-connect:[::1]:8090"], ["cmd"])
    unknown = (["--after", "file:/x", "--", "c"], ["--after", "unix-socket:/x/s-*.sock", "--", "c"])
    for wrong in (["--worker", "x", "--", "c"], *unknown, ["--worker"]):
        with pytest.raises(ValueError):
            parse(wrong)


def test_the_first_worker_starts_at_once_with_nothing_serving():
    launched = time.time()
    with bound_not_listening() as front_door:
        lines, started = outputs(run_wrapper("--worker", "0", "--after", front_door_target(front_door)))
    assert lines == []
    assert started - launched < LATER_WORKER_WAIT / 2


def test_a_later_worker_starts_once_the_front_door_listens_and_not_while_it_only_has_bound():
    launched = time.monotonic()
    with bound_not_listening() as front_door:
        wrapper = run_wrapper("--worker", "1", "--after", front_door_target(front_door))
        try:
            eventually_sync(lambda: still_waiting(wrapper, launched, 0.5), timeout=LATER_WORKER_WAIT, interval=0.05)
            front_door.listen()
            serving_since = time.time()
            lines, started = outputs(wrapper)
        finally:
            wrapper.kill()
            wrapper.wait()
    assert started >= serving_since
    [line] = lines
    assert (line["event"], line["outcome"], line["worker"]) == ("later_worker_start", "serving", 1)
    assert line["waited"] < LATER_WORKER_WAIT


def test_a_later_worker_whose_pool_serves_already_starts_at_once():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        [line], _ = outputs(run_wrapper("--worker", "3", "--after", f"tcp-connect:127.0.0.1:{port}"))
    assert line["outcome"] == "serving" and line["waited"] < 0.5


@pytest.mark.slow
def test_a_later_worker_starts_anyway_after_the_bound_when_no_front_door_listens():
    launched = time.time()
    with bound_not_listening() as front_door:
        [line], started = outputs(run_wrapper("--worker", "1", "--after", front_door_target(front_door)))
    assert (line["outcome"], line["level"]) == ("timeout", "warning")
    assert line["waited"] >= LATER_WORKER_WAIT
    assert started - launched >= LATER_WORKER_WAIT
