"""The wrapper every program starts through: a later worker of a pool execs once a worker of the pool
serves, or after the bound; the first at once.  Real sockets, the wrapper run as the conf runs it."""

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
from webui_host.parent_bound import LATER_WORKER_WAIT, parse, tcp_accepts, unix_socket_accepts

WRAPPER = Path(parent_bound.__file__)
PRINT_START = "import time; print('started', time.time(), flush=True)"


def stale_socket_file(path: Path) -> Path:
    """What a killed process leaves: a socket file with nobody behind it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    return path


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


def test_a_stale_socket_file_does_not_count_and_a_listening_one_does(tmp_path: Path):
    pattern = f"{tmp_path}/signer-*.sock"
    assert not unix_socket_accepts(pattern)  # nothing there
    stale_socket_file(tmp_path / "signer-old.sock")
    (tmp_path / "signer-notasocket.sock").write_text("")
    assert not unix_socket_accepts(pattern)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:  # another pool's socket
        other.bind(str(tmp_path / "session-daemon.sock"))
        other.listen()
        assert not unix_socket_accepts(pattern)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as signer:
            signer.bind(str(tmp_path / "signer-new.sock"))
            signer.listen()
            assert unix_socket_accepts(pattern)


def test_arguments():
    assert parse(["--", "cmd", "-x"]) == (0, [], ["cmd", "-x"])
    assert parse(["cmd"]) == (0, [], ["cmd"])
    options = ["--worker", "2", "--after", "tcp-connect:127.0.0.1:8090", "--after", "unix-socket:/x/s-*.sock"]
    assert parse([*options, "--", "cmd"]) == (2, ["tcp-connect:127.0.0.1:8090", "unix-socket:/x/s-*.sock"], ["cmd"])
    for wrong in (["--worker", "x", "--", "c"], ["--after", "file:/x", "--", "c"], ["--worker"]):
        with pytest.raises(ValueError):
            parse(wrong)


def test_the_first_worker_starts_at_once_with_nothing_serving(tmp_path: Path):
    launched = time.time()
    lines, started = outputs(run_wrapper("--worker", "0", "--after", f"unix-socket:{tmp_path}/signer-*.sock"))
    assert lines == []
    assert started - launched < LATER_WORKER_WAIT / 2


def test_a_later_worker_starts_once_a_worker_of_its_pool_listens_and_not_on_a_stale_socket(tmp_path: Path):
    stale_socket_file(tmp_path / "signer-killed.sock")
    launched = time.monotonic()
    wrapper = run_wrapper("--worker", "1", "--after", f"unix-socket:{tmp_path}/signer-*.sock")
    try:
        eventually_sync(lambda: still_waiting(wrapper, launched, 0.5), timeout=LATER_WORKER_WAIT, interval=0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as first:
            first.bind(str(tmp_path / "signer-first.sock"))
            first.listen()
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
def test_a_later_worker_starts_anyway_after_the_bound_when_nothing_of_its_pool_serves(tmp_path: Path):
    stale_socket_file(tmp_path / "signer-killed.sock")
    launched = time.time()
    [line], started = outputs(run_wrapper("--worker", "1", "--after", f"unix-socket:{tmp_path}/signer-*.sock"))
    assert (line["outcome"], line["level"]) == ("timeout", "warning")
    assert line["waited"] >= LATER_WORKER_WAIT
    assert started - launched >= LATER_WORKER_WAIT
