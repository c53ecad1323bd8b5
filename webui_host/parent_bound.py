"""``python -m webui_host.parent_bound -- CMD ...``: run CMD so that it dies with its parent.

supervisord starts each program in its own process group, so when supervisord itself is killed
(``kill -9`` of ``webui-host run``, an OOM kill) nothing would stop its programs: they would keep
the ports and the state directory, and the next ``run`` would refuse to start.  Linux's parent-death
signal fixes that at the source: the kernel sends SIGTERM to the program when its parent dies, and
the setting survives ``exec``.  Every program of the generated supervisord.conf starts through here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``signum`` when the parent dies; False where prctl is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m webui_host.parent_bound -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    parent = os.getppid()
    set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 1
    os.execvp(argv[0], argv)
    return 1  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
