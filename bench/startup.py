"""Start-up benchmark: ``webui-host run`` to the first signed proxied answer, and the stack's memory.

Starts the whole stack the way an operator does (``webui-host run -f FILE`` with the embedded Redis,
etcd and development Manager on free loopback ports; 2 front-door workers and 2 signers by default),
then polls every 20 ms: log in through ``/server/login``, then ``GET /func/auth?echo=ready`` through
the front door, which a signer signs and the development Manager verifies.  It prints

  - the time from launching ``webui-host run`` to the first 200 of that signed call, and to full
    readiness (every front-door worker listening and every signer ready, from their log lines);
  - a timeline of the start: supervisord's spawn/RUNNING lines and every program's first log lines,
    in seconds since the launch (``--events N`` lines per program);
  - the peak RSS (``VmHWM``) of each process after a short load of signed calls, by process kind:
    ours (supervisord, front doors, signers, session daemon) against the target, the embedded
    servers and the development Manager apart.

``--runs N`` repeats the whole measurement with a new state directory each time and prints the
median; ``--warm`` starts a second time over the first run's state (existing etcd data, secrets).

``--encoded-logins N`` logs in N times the way the Web UI does (an ``X-BackendAI-Encoded`` body) before
the load, so the figures are those of a host in real use.

Usage: .venv/bin/python bench/startup.py [--runs 3] [--workers 2] [--signers 2] [--load 200] [--encoded-logins 8]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import stack as stack_support  # noqa: E402
from tests.support.stack import ADMIN_USER, RunningStack  # noqa: E402

POLL_INTERVAL = 0.02
OURS = ("supervisord", "frontdoor", "signer", "session_daemon")
_SUPERVISORD_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (.*)$")


@dataclass
class Run:
    first_answer: float  # seconds from launch to the first signed 200
    full_ready: float  # seconds from launch to the last front door listening / signer ready
    events: list[tuple[float, str, str]]  # (seconds since launch, program, what)
    peaks: dict[str, list[int]] = field(default_factory=dict)  # kind -> VmHWM bytes per process
    cpu: dict[str, list[float]] = field(default_factory=dict)  # kind -> CPU seconds to the first answer
    pss: dict[str, list[int]] = field(default_factory=dict)  # kind -> proportional set size at the end, bytes


def process_kind(process: psutil.Process) -> str:
    line = " ".join(process.cmdline())
    for module, kind in (
        ("-m frontdoor", "frontdoor"),
        ("-m signer_worker", "signer"),
        ("-m session_daemon", "session_daemon"),
        ("-m devstack", "devstack (not ours)"),
        ("supervisord", "supervisord"),
        ("redis-server", "redis (embedded)"),
        ("etcd", "etcd (embedded)"),
    ):
        if module in line:
            return kind
    return "other: " + line[:60]


def proc_field(path: str, name: str) -> int:
    """A ``Name:   N kB`` line of a /proc file, in bytes."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def vm_hwm(pid: int) -> int:
    """The process's peak resident set, from the kernel; shared library pages count in every process."""
    return proc_field(f"/proc/{pid}/status", "VmHWM")


def pss(pid: int) -> int:
    """The process's proportional set size now: each shared page divided among the processes mapping it."""
    return proc_field(f"/proc/{pid}/smaps_rollup", "Pss")


def signed_call(base_url: str, opener: urllib.request.OpenerDirector) -> bool:
    try:
        with opener.open(f"{base_url}/func/auth?echo=ready", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def login(base_url: str) -> urllib.request.OpenerDirector | None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": ADMIN_USER[0], "password": ADMIN_USER[1]}).encode()
    request = urllib.request.Request(
        f"{base_url}/server/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with opener.open(request, timeout=5) as response:
            return opener if json.load(response).get("authenticated") is True else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def encoded_logins(base_url: str, count: int) -> None:
    """Log in ``count`` times as the Web UI does (an ``X-BackendAI-Encoded`` body), each on a connection of
    its own so the front doors share them: the memory figures are then those of a host in real use."""
    from tests.support.official_webui import encode_like_the_web_ui

    body = json.dumps({"username": ADMIN_USER[0], "password": ADMIN_USER[1]}).encode()
    headers = {"Content-Type": "application/json", "X-BackendAI-Encoded": "true"}
    for _ in range(count):
        encoded = encode_like_the_web_ui(body, base_url).encode()
        request = urllib.request.Request(f"{base_url}/server/login", data=encoded, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            if json.load(response).get("authenticated") is not True:
                raise RuntimeError("an encoded login was refused")


def wait_first_answer(
    stack: RunningStack, launched: float, timeout: float
) -> tuple[float, urllib.request.OpenerDirector]:
    opener = None
    while time.time() - launched < timeout:
        if stack._process.poll() is not None:
            raise RuntimeError(f"webui-host run exited: {stack.log_tail()}")
        opener = opener or login(stack.base_url)
        if opener is not None and signed_call(stack.base_url, opener):
            return time.time() - launched, opener
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"no signed answer within {timeout} s: {stack.log_tail()}")


READY_EVENTS = {"frontdoor": "startup", "signer": "signer_ready"}  # a front door logs "startup" once listening


def wait_full_readiness(logs: Path, launched: float, args: argparse.Namespace) -> float:
    """Seconds from the launch to the last worker's ready line, once every front door and signer logged one."""
    expected = {f"frontdoor_{n:02d}" for n in range(args.workers)} | {f"signer_{n:02d}" for n in range(args.signers)}
    while time.time() - launched < args.timeout:
        ready = {}
        for program in expected:
            path = logs / f"{program}.log"
            event = READY_EVENTS[program.rsplit("_", 1)[0]]
            for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
                if event in line and (doc := json.loads(line)).get("event") == event:
                    ready[program] = doc["ts"]
                    break
        if len(ready) == len(expected):
            return max(ready.values()) - launched
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"not every worker ready within {args.timeout} s")


def supervisord_events(log: Path, launched: float) -> list[tuple[float, str, str]]:
    events = []
    for line in log.read_text(errors="replace").splitlines():
        match = _SUPERVISORD_LINE.match(line)
        if match and any(word in match.group(2) for word in ("spawned", "success", "supervisord started")):
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((stamp - launched, "supervisord", match.group(2)[:90]))
    return events


def program_events(logs: Path, launched: float, per_program: int) -> list[tuple[float, str, str]]:
    events = []
    for path in sorted(logs.glob("*.log")):
        if path.name == "supervisord.log":
            continue
        taken = 0
        for line in path.read_text(errors="replace").splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not isinstance(doc, dict) or "ts" not in doc or doc.get("event") == "request":
                continue
            stamp = doc["ts"] if isinstance(doc["ts"], float) else datetime.fromisoformat(doc["ts"]).timestamp()
            if stamp < launched - 0.5:  # an earlier run's line in the same state directory
                continue
            events.append((stamp - launched, path.stem, f"{doc.get('event')}: {doc.get('msg')}"[:90]))
            taken += 1
            if taken >= per_program:
                break
    return events


def by_kind(root: psutil.Process, figure) -> dict[str, list]:
    """``figure(process)`` of the launcher's process (supervisord, after the exec) and its descendants."""
    found: dict[str, list] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            found.setdefault(process_kind(process), []).append(figure(process))
        except (psutil.NoSuchProcess, FileNotFoundError):
            continue
    return found


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def new_stack(directory: Path, args: argparse.Namespace, ports: stack_support.StackPorts | None = None):
    """A stack on free ports, or on ``ports`` (a second start over the same etcd member)."""
    choose = stack_support.stack_ports
    if ports is not None:
        stack_support.stack_ports = lambda: ports
    try:
        return RunningStack(directory, signers=args.signers, workers=args.workers)
    finally:
        stack_support.stack_ports = choose


def measure(stack: RunningStack, args: argparse.Namespace) -> Run:
    launched = time.time()
    stack._process = subprocess.Popen(
        [str(stack.launcher), "run", "-f", str(stack.config_path)],
        stdout=stack._log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first, opener = wait_first_answer(stack, launched, args.timeout)
        root = psutil.Process(stack._process.pid)
        cpu = by_kind(root, cpu_seconds)
        logs = stack.config.runtime.state_dir / "logs"
        full_ready = wait_full_readiness(logs, launched, args)
        encoded_logins(stack.base_url, args.encoded_logins)
        for _ in range(args.load):
            signed_call(stack.base_url, opener)
        time.sleep(1.0)  # let every program log what it does once it serves
        events = supervisord_events(logs / "supervisord.log", launched)
        events += program_events(logs, launched, args.events)
        peaks = by_kind(root, lambda process: vm_hwm(process.pid))
        return Run(first, full_ready, sorted(events), peaks, cpu, by_kind(root, lambda process: pss(process.pid)))
    finally:
        stack.stop()


def report(runs: list[Run], args: argparse.Namespace, label: str) -> None:
    firsts = [run.first_answer for run in runs]
    print(f"## {label}: {args.workers} front doors, {args.signers} signers, {psutil.cpu_count()} CPUs")
    print(
        f"first signed answer after launch: median {statistics.median(firsts):.2f} s (runs: "
        + ", ".join(f"{value:.2f}" for value in firsts)
        + ")"
    )
    fulls = [run.full_ready for run in runs]
    print(
        f"every front door and signer ready: median {statistics.median(fulls):.2f} s (runs: "
        + ", ".join(f"{value:.2f}" for value in fulls)
        + ")"
    )
    middle = sorted(runs, key=lambda run: run.first_answer)[len(runs) // 2]
    if args.events:
        print("\ntimeline of the median run (s since launch):")
        for offset, program, what in middle.events:
            if offset < -0.5:  # an earlier run's lines in the same state directory
                continue
            print(f"  {offset:6.2f}  {program:<18} {what}")
    print(
        "\n| process kind | processes | peak RSS each, MiB | peak RSS sum | PSS sum at the end | CPU s to first answer, each |"
    )
    print("|---|---|---|---|---|---|")
    ours = ours_pss = ours_cpu = 0.0
    for kind, values in sorted(middle.peaks.items()):
        total, shared = sum(values), sum(middle.pss.get(kind, []))
        cpu = middle.cpu.get(kind, [])
        if kind in OURS:
            ours, ours_pss, ours_cpu = ours + total, ours_pss + shared, ours_cpu + sum(cpu)
        each = ", ".join(f"{value / (1 << 20):.0f}" for value in values)
        cpu_each = ", ".join(f"{value:.2f}" for value in cpu)
        print(f"| {kind} | {len(values)} | {each} | {total / (1 << 20):.0f} | {shared / (1 << 20):.0f} | {cpu_each} |")
    print(
        f"| **ours ({', '.join(OURS)})** | | | **{ours / (1 << 20):.0f}** | {ours_pss / (1 << 20):.0f} "
        f"| {ours_cpu:.2f} in all |"
    )
    peaks = [sum(sum(v) for k, v in run.peaks.items() if k in OURS) / (1 << 20) for run in runs]
    print(
        f"\nours, peak RSS summed per run: median {statistics.median(peaks):.0f} MiB (runs: "
        + ", ".join(f"{value:.0f}" for value in peaks)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--signers", type=int, default=2)
    parser.add_argument("--load", type=int, default=200, help="signed calls after the first, before RSS is read")
    parser.add_argument(
        "--encoded-logins", type=int, default=0, help="Web UI (X-BackendAI-Encoded) logins before RSS is read"
    )
    parser.add_argument("--events", type=int, default=6, help="log lines per program in the timeline (0: none)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--warm", action="store_true", help="also start again over the first run's state")
    args = parser.parse_args()
    runs, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="webui-host-startup-") as directory:
            first = new_stack(Path(directory), args)
            runs.append(measure(first, args))
            if args.warm:
                warm.append(measure(new_stack(Path(directory), args, first.ports), args))
    report(runs, args, "fresh state directory")
    if warm:
        print()
        report(warm, args, "second start over the same state")


if __name__ == "__main__":
    main()
