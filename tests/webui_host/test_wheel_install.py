"""The wheel works outside the repository: built, installed into a fresh venv, run from elsewhere.

Before, the wheel had no templates, static files or supervisord template, and product code looked for
them beside the checkout: check-config failed on static_path, supervisord-conf and run crashed with
TemplateNotFound, and a front door answered 500 on /ui/login and /config.toml.

Offline: the fresh venv gets only our wheel (``--no-index --no-deps``); its dependencies come from the
test venv's site-packages through a plain path line in a .pth file.  A plain path line adds the
directory without running the .pth files inside it, so the test venv's editable hook (which points at
this checkout) stays off and every import of our packages resolves to the installed wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.support.http_probe import signed_call_works
from tests.support.paths import REPO_ROOT
from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow

PACKAGES = ("contract", "frontdoor", "signer_worker", "session_daemon", "devstack", "webui_host")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with only the built wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # Built from a copy: setuptools leaves build/ in the tree it builds, and a stale build/lib of the
    # checkout could hide a file the package data misses.
    source = base / "source"
    shutil.copytree(
        REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "test-artifacts", ".state", "image-build"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        cwd=base,
    )
    wheel = next(dist.glob("webui_host-*.whl"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], check=True, cwd=base
    )
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib, json; print(json.dumps({p: importlib.import_module(p)"
            f".__file__ for p in {PACKAGES!r}}}))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=base,
    ).stdout
    for package, file in json.loads(where).items():
        assert file.startswith(purelib), (package, file)  # the wheel's copy, not this checkout
    return env_dir / "bin"


def _cli(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "webui-host"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_check_config_and_version_from_elsewhere(installed, tmp_path):
    done = _cli(installed, tmp_path, "check-config")
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr
    done = _cli(installed, tmp_path, "check-config", "--json")
    report = json.loads(done.stdout)
    assert (report["ok"], report["problems"], report["warnings"]) == (True, [], [])
    # Read from the installed wheel's METADATA (service_runtime.version), not "0+unknown".
    expected = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert _cli(installed, tmp_path, "--version").stdout == f"webui-host {expected}\n"


def test_supervisord_conf_from_elsewhere(installed, tmp_path):
    done = _cli(installed, tmp_path, "supervisord-conf", "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 0, done.stderr
    assert "[program:frontdoor]" in done.stdout and str(REPO_ROOT) not in done.stdout
    operator = _cli(installed, tmp_path, "supervisord-conf", "--operator")
    assert operator.returncode == 0 and "[program:signer]" in operator.stdout
    # Kept outside the repository, the operator's conf runs the installed interpreter.
    operator = _cli(installed, tmp_path, "supervisord-conf", "--operator", "--python", str(installed / "python"))
    assert f"command={installed / 'python'} -m webui_host.parent_bound" in operator.stdout, operator.stdout
    assert "%(here)s/.venv/bin/python" not in operator.stdout


def test_prepare_operator_writes_beside_the_config_not_site_packages(installed, tmp_path):
    config = tmp_path / "etc" / "webui-host.toml"
    config.parent.mkdir()
    config.write_text(f'[runtime]\nstate_dir = "{tmp_path / "state"}"\n')
    done = _cli(installed, tmp_path, "prepare", "-f", str(config), "--operator")
    assert done.returncode == 0, done.stderr
    assert (config.parent / ".state" / "logs").is_dir()
    site = installed.parent / "lib"
    assert not list(site.rglob(".state"))


def test_the_stack_runs_from_the_installed_wheel(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stack = RunningStack(tmp_path, signers=1, workers=1, launcher=installed / "webui-host", cwd=elsewhere)
    try:
        stack.start(timeout=90)
        command = " ".join(__import__("psutil").Process(stack.pids("frontdoor")[0]).cmdline())
        assert str(installed.parent) in command  # the installed interpreter runs the front door
        for path in ("/ui/login", "/config.toml"):
            with urllib.request.urlopen(stack.base_url + path, timeout=10) as response:
                assert response.status == 200, path
                body = response.read().decode()
            assert body, path
        assert signed_call_works(stack.base_url, *ADMIN_USER)
    finally:
        stack.stop()
