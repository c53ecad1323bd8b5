"""The version read from the distribution's metadata file, as importlib.metadata would read it."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from service_runtime.version import UNKNOWN, VERSION, installed_version, metadata_version


def test_the_running_version_is_the_one_importlib_metadata_reads():
    assert VERSION == metadata.version("webui-host") != UNKNOWN
    assert installed_version(sys.path) == VERSION


def _distribution(directory: Path, name: str, file: str, version: str) -> None:
    (directory / name).mkdir(parents=True)
    (directory / name / file).write_text(f"Metadata-Version: 2.4\nName: webui-host\nVersion: {version}\n\nbody\n")


def test_wheel_editable_and_setuptools_layouts_are_found_in_path_order(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    _distribution(first, "webui_host-2.3.4.dist-info", "METADATA", "2.3.4")
    _distribution(first, "webui_host_extra-9.9.dist-info", "METADATA", "9.9")  # another distribution
    _distribution(second, "webui_host.egg-info", "PKG-INFO", "1.0.0")
    assert installed_version([str(tmp_path / "missing"), str(first), str(second)]) == "2.3.4"
    assert installed_version([str(second), str(first)]) == "1.0.0"
    assert installed_version([str(tmp_path / "missing")]) == UNKNOWN


def test_only_the_headers_are_read():
    assert metadata_version("Name: x\nVersion: 1.2\n\nVersion: 9") == "1.2"
    assert metadata_version("Name: x\n\nVersion: 9") is None
