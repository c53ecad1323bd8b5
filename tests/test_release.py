"""Release hygiene that spans the repository: one version, a licence, a changelog, and the image's lock
file matching what pyproject.toml resolves to."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distribution, version

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
IMAGE_PYTHON = "3.11.2"  # Debian 12's python3, the image's interpreter


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "requirements" / "image.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line  # a lock pins, it does not range
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _closure() -> tuple[set[str], set[str]]:
    """Runtime dependencies of the installed webui-host, following requested extras (PyJWT[crypto]):
    (those of this venv, those needed only on the image's Python)."""
    here = default_environment()
    image = {**here, "python_full_version": IMAGE_PYTHON, "python_version": IMAGE_PYTHON.rsplit(".", 1)[0]}

    def wanted(marker, env, extras) -> bool:
        return marker is None or any(marker.evaluate({**env, "extra": extra}) for extra in ("", *extras))

    seen: dict[str, set[str]] = {}
    image_only: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [("webui-host", frozenset())]
    while todo:
        name, extras = todo.pop()
        for text in distribution(name).requires or []:
            requirement = Requirement(text)
            key = canonicalize_name(requirement.name)
            if wanted(requirement.marker, here, extras):
                if not set(requirement.extras) <= seen.get(key, set()) or key not in seen:
                    seen.setdefault(key, set()).update(requirement.extras)
                    todo.append((requirement.name, frozenset(seen[key])))
            elif wanted(requirement.marker, image, extras):
                image_only.add(key)
    return set(seen), image_only - set(seen)


def test_the_image_lock_is_the_resolved_runtime_set():
    lock = _lock()
    here, image_only = _closure()
    assert set(lock) == here | image_only
    for name in here:
        assert lock[name] == version(name), name  # the image runs what the tests ran


def test_one_version():
    assert version("webui-host") == VERSION
    assert re.search(rf"^## \[{re.escape(VERSION)}\]", (REPO_ROOT / "CHANGELOG.md").read_text(), re.M)
    assert "Apache License" in (REPO_ROOT / "LICENSE").read_text() and PYPROJECT["project"]["license"] == "Apache-2.0"
