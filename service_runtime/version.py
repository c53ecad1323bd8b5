"""The one version of webui-host: the installed distribution's (pyproject.toml's ``version``).

Read from the distribution's own metadata file, found on ``sys.path`` in the order
``importlib.metadata`` searches it: that module pulls ``importlib.resources``, zipfile, tempfile,
lzma and more (~2 MiB, ~10 ms) into every process, for one line of one file.
"""

from __future__ import annotations

import os
import sys

DISTRIBUTION = "webui_host"  # the normalized name its .dist-info (or .egg-info) directory starts with
UNKNOWN = "0+unknown"  # running from a bare checkout
METADATA_FILES = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


def metadata_version(text: str) -> str | None:
    """The ``Version`` header of a core metadata file (the headers end at the first empty line)."""
    for line in text.splitlines():
        if not line.strip():
            return None
        name, _, value = line.partition(":")
        if name.strip().lower() == "version":
            return value.strip() or None
    return None


def installed_version(search_path: list[str]) -> str:
    for entry in search_path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a missing directory: ours is never installed there
            continue
        for name in sorted(names):
            suffix = next((s for s in METADATA_FILES if name.endswith(s)), None)
            # <name>-<version>.dist-info, <name>-<version>.egg-info or <name>.egg-info (setuptools' own)
            if suffix is None or name[: -len(suffix)].partition("-")[0].lower().replace(".", "_") != DISTRIBUTION:
                continue
            try:
                with open(os.path.join(entry or ".", name, METADATA_FILES[suffix]), encoding="utf-8") as file:
                    version = metadata_version(file.read())
            except OSError:
                continue
            if version:
                return version
    return UNKNOWN


VERSION = installed_version(sys.path)
