"""The whole host under one supervisord: how to start it, reach it, and tell that it runs.

``webui-host run`` is ``host_setup.resolve`` -> ``host_checks.check_problems`` -> ``host_setup.prepare``
-> ``manager_choice.decide_manager`` -> ``supervisord_conf.write_supervisord_conf`` -> ``banner.banner``
-> exec supervisord (``supervisord_argv``).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from webui_host.supervisord_conf import SOCKET_FILE


def supervisor_running(state_dir: Path) -> bool:
    sock_path = state_dir / SOCKET_FILE
    if not sock_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(sock_path))
        except OSError:
            return False
    return True


def supervisorctl_path() -> Path:
    return Path(sys.executable).absolute().parent / "supervisorctl"


def supervisord_argv(conf_path: Path) -> list[str]:
    script = Path(sys.executable).absolute().parent / "supervisord"
    if script.exists():
        return [str(script), "-n", "-c", str(conf_path)]
    return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf_path)]
