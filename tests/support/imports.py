"""What a fresh interpreter has loaded after some imports: a process's start-up cost is its imports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO_ROOT


def modules_loaded_by(*modules: str) -> set[str]:
    """The names in ``sys.modules`` of a new interpreter once it imported ``modules`` (None entries,
    imports made to fail on purpose, are left out)."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def packages(names: set[str]) -> set[str]:
    """The top-level packages among module names."""
    return {name.split(".", 1)[0] for name in names}


def mapped_files(pid: int) -> set[str]:
    """The files a running process has mapped: its loaded extension modules among them."""
    with open(f"/proc/{pid}/maps") as maps:
        return {fields[5].strip() for fields in (line.split(None, 5) for line in maps) if len(fields) == 6}
