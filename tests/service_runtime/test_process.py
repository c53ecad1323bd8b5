"""The process skeleton in a real process: start, SIGHUP runs the registered hooks with the reloaded
config, SIGTERM stops the service, the garbage collector is back on once it started; exit codes for a
bad file and a failed start."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.polling import eventually_sync

SCRIPT = textwrap.dedent("""
    import gc
    import sys
    from pathlib import Path

    gc.disable()  # as every process's __main__ does before its imports

    import asyncio

    import service_runtime.process as process
    import service_runtime.reload as reload
    from service_runtime.background import run_in_background
    from service_runtime.config_file import load_config
    from service_runtime.settings import Settings

    async def settings_without_etcd(path, etcd_wait=10.0):
        return Settings(load_config(path), ["http://manager:1"])

    process.load_settings = reload.load_settings = settings_without_etcd  # no etcd in this test
    journal = Path(sys.argv[2])

    def note(line):
        with journal.open("a") as handle:
            handle.write(line + "\\n")

    class Service:
        def __init__(self, proc):
            proc.on_reload(lambda config: note(f"reload {config.api.response_timeout}"))

        async def start(self):
            if sys.argv[3] == "fail":
                raise OSError("address in use")
            if sys.argv[3] == "loop-dies":
                self.loop = run_in_background(self.dies(), "test loop")
            if sys.argv[3] == "loop-ends":
                self.loop = run_in_background(asyncio.sleep(0), "test loop")
            if sys.argv[3] == "swallows-cancel":
                self.loop = asyncio.create_task(self.swallows(), name="stubborn loop")
            note("start")
            note(f"collector enabled {gc.isenabled()}, objects frozen {gc.get_freeze_count() > 0}")

        async def swallows(self):
            while True:  # a loop that catches its cancellation and goes on
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    pass

        async def dies(self):
            await asyncio.sleep(0.1)
            raise RuntimeError("a value")

        async def stop(self):
            if sys.argv[3] == "dies-while-stopping":
                self.loop = run_in_background(self.dies(), "test loop")
                await asyncio.sleep(0.3)
            note("stop")

    sys.exit(process.run_process("skeleton-test", Path(sys.argv[1]), Service))
""")


def write_config(tmp_path: Path, timeout: str) -> Path:
    path = tmp_path / "webui-host.toml"
    path.write_text(f'[api]\nresponse_timeout = {timeout}\n[runtime]\nstate_dir = "{tmp_path / "state"}"\n')
    return path


def start(tmp_path: Path, mode: str = "ok") -> tuple[subprocess.Popen, Path]:
    journal = tmp_path / "journal"
    journal.touch()
    script = tmp_path / "service.py"
    script.write_text(SCRIPT)
    config = tmp_path / "webui-host.toml"
    # Its output to a file, not a pipe nobody reads while it runs (a full pipe would block it), and no
    # pipe left open after the test (a ResourceWarning each).
    with (tmp_path / "output").open("wb") as output:
        child = subprocess.Popen(
            [sys.executable, str(script), str(config), str(journal), mode], stdout=output, stderr=subprocess.STDOUT
        )
    return child, journal


def test_sighup_runs_the_hooks_with_the_new_value_and_sigterm_stops(tmp_path):
    config = write_config(tmp_path, "5")
    child, journal = start(tmp_path)
    eventually_sync(lambda: "start" in journal.read_text(), what="started")
    config.write_text(config.read_text().replace("response_timeout = 5", "response_timeout = 7"))
    child.send_signal(signal.SIGHUP)
    eventually_sync(lambda: "reload 7.0" in journal.read_text(), what="the hook saw the new value")
    child.send_signal(signal.SIGTERM)
    assert child.wait(20) == 0
    # The skeleton turned the collector back on once build() had imported everything.
    assert journal.read_text().splitlines() == [
        "start",
        "collector enabled True, objects frozen True",
        "reload 7.0",
        "stop",
    ]


@pytest.mark.parametrize(
    ("content", "mode", "code"),
    [
        ("[api]\nresponse_timeout = -1\n", "ok", 2),  # invalid file: 2, nothing started
        (None, "fail", 1),  # the service cannot start (a busy port): 1
    ],
)
def test_exit_codes(tmp_path, content, mode, code):
    write_config(tmp_path, "5")
    if content is not None:
        (tmp_path / "webui-host.toml").write_text(content)
    child, journal = start(tmp_path, mode)
    assert child.wait(20) == code, (tmp_path / "output").read_text()
    assert "start" not in journal.read_text()


@pytest.mark.parametrize(
    ("mode", "code", "failures"),
    [
        ("loop-dies", 1, 1),  # ends the process on its own, stopping the service first
        ("loop-ends", 0, 0),  # nothing to do any more: the process runs on until SIGTERM
        ("dies-while-stopping", 0, 0),  # its resources closing under it: the stop was asked for
    ],
)
def test_a_background_loop_that_dies_of_an_error_ends_the_process(tmp_path, mode, code, failures):
    write_config(tmp_path, "5")
    child, journal = start(tmp_path, mode)
    eventually_sync(lambda: "start" in journal.read_text(), what="started")
    if not failures:
        time.sleep(0.5)  # on purpose: "it goes on running" is the assertion
        assert child.poll() is None
        child.send_signal(signal.SIGTERM)
    assert child.wait(20) == code
    assert journal.read_text().splitlines()[-1] == "stop"
    output = (tmp_path / "output").read_text()
    assert output.count('"background_task_failed"') == failures, output
    assert "a value" not in output


def test_a_task_that_ignores_its_cancellation_does_not_hold_the_exit(tmp_path):
    """asyncio.run's teardown waited for it for ever (a front door orphaned by kill -9 of the launcher
    was still there 48 minutes later); it gets LEFT_TASKS_GRACE (2 s), is named, and abandoned."""
    write_config(tmp_path, "5")
    child, journal = start(tmp_path, "swallows-cancel")
    eventually_sync(lambda: "start" in journal.read_text(), what="started")
    asked = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:  # (the code before: it never ended)
            child.kill()
            child.wait()
    assert time.monotonic() - asked < 6
    output = (tmp_path / "output").read_text()
    assert '"exit_tasks_left"' in output and "stubborn loop" in output, output
    assert "destroyed but it is pending" not in output
