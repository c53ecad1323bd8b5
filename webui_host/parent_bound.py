"""``python -m webui_host.parent_bound [--worker N --after WHAT] -- CMD ...``: run CMD so that it dies
with its parent, and start a pool's later workers once a front door serves.

supervisord starts each program in its own process group, so when supervisord itself is killed
(``kill -9`` of ``webui-host run``, an OOM kill) nothing would stop its programs: they would keep
the ports and the state directory, and the next ``run`` would refuse to start.  Linux's parent-death
signal fixes that at the source: the kernel sends SIGTERM to the program when its parent dies, and
the setting survives ``exec``.  Every program of the generated supervisord.conf starts through here.

The stagger: a start is CPU-bound (every Python process imports at once on few cores) and the first
answer needs one front door and one signer, not all of them.  ``--worker N`` is the process's number
in its pool (supervisord's ``%(process_num)s``); worker 0 execs at once, any other first waits until
``--after tcp-connect:HOST:PORT`` is accepted, for at most ``LATER_WORKER_WAIT`` seconds.  The conf
names the public port for both pools: a front door listens only once a signer is connected to it, so
a listening front door means a serving signer too, and the first answer no longer shares the CPU with
any later worker.

A connect, so only what serves now counts: a socket bound but not listening (a front door still
starting, or a dying one) refuses.  A restart while some front door serves finds it at the first look
and does not wait; a later signer restarted while none serves waits the bound (nothing could use it
meanwhile).

Only the standard library, and few imports of it: this runs as ``python -I -S`` before every program.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
# A later worker starts anyway after this many seconds without a serving front door, so a first
# worker that crash-loops (or is stopped) never keeps the others down.  An idle 2-core start serves in
# ~2-3 s (a loaded one may take longer: the later workers then start before it serves, as before the
# stagger); below [signers] pool_wait (10 s), a request waiting for the pool meanwhile is still served.
LATER_WORKER_WAIT = 5.0
WAIT_POLL = 0.05  # s between looks; a look is a few connect() calls, refused in microseconds
TARGET_KINDS = ("tcp-connect",)
CONNECT_TIMEOUT = 0.5  # s; a loopback connect is answered or refused at once
USAGE = "usage: python -m webui_host.parent_bound [--worker N --after WHAT ...] -- COMMAND [ARG ...]"


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``signum`` when the parent dies; False where prctl is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def tcp_accepts(address: str) -> bool:
    """Whether something accepts a TCP connection at ``HOST:PORT`` now (the front door, once it listens,
    takes it and sees it closed before any request: no request, no log line).  A connect, not a read
    of /proc/net/tcp: the kernel formats every socket of the host for that, ~4 ms of CPU per look on
    a host with a few hundred connections."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:  # refused: nobody listens yet
        return False


def serving(target: str) -> bool:
    kind, _, what = target.partition(":")
    if kind == "tcp-connect":
        return tcp_accepts(what)
    raise ValueError(f"unknown --after {target!r}")


def wait_for_a_serving_front_door(targets: list[str], bound: float = LATER_WORKER_WAIT) -> tuple[bool, float]:
    """(whether some target served, seconds waited); gives up after ``bound`` seconds."""
    started = time.monotonic()
    while True:
        if any(serving(target) for target in targets):
            return True, time.monotonic() - started
        waited = time.monotonic() - started
        if waited >= bound:
            return False, waited
        time.sleep(WAIT_POLL)


def log_start(worker: int, served: bool, waited: float) -> None:
    """One JSON line into the program's log (its stdout), the shape of the services' own lines."""
    import json

    doc = {
        "ts": round(time.time(), 3),
        "level": "info" if served else "warning",
        "process": "parent_bound",
        "pid": os.getpid(),
        "logger": "webui_host.parent_bound",
        "msg": "a front door serves: starting" if served else "no front door serves: starting anyway",
        "event": "later_worker_start",
        "worker": worker,
        "waited": round(waited, 3),
        "outcome": "serving" if served else "timeout",
    }
    print(json.dumps(doc), flush=True)


def parse(argv: list[str]) -> tuple[int, list[str], list[str]]:
    """(worker number, --after targets, the command) of the wrapper's arguments."""
    worker, targets = 0, []
    while argv[:1] in (["--worker"], ["--after"]):
        if len(argv) < 2:
            raise ValueError(f"{argv[0]} needs a value")
        if argv[0] == "--worker":
            worker = int(argv[1])
        elif argv[1].partition(":")[0] in TARGET_KINDS:
            targets.append(argv[1])
        else:
            raise ValueError(f"unknown --after {argv[1]!r}")
        argv = argv[2:]
    return worker, targets, argv[1:] if argv[:1] == ["--"] else argv


def main(argv: list[str]) -> int:
    try:
        worker, targets, command = parse(argv)
    except ValueError as problem:
        print(f"{problem}\n{USAGE}", file=sys.stderr)
        return 2
    if not command:
        print(USAGE, file=sys.stderr)
        return 2
    parent = os.getppid()
    set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 1
    if worker > 0 and targets:
        log_start(worker, *wait_for_a_serving_front_door(targets))
    os.execvp(command[0], command)
    return 1  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
