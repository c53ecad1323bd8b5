"""The one version of webui-host: the installed distribution's (pyproject.toml's ``version``)."""

from __future__ import annotations

from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("webui-host")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


VERSION = _version()
