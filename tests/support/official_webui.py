"""The official Backend.AI Web UI bundle: the ``static/`` folder of the backend.ai-webserver wheel
from PyPI, downloaded once into ``~/.cache/webui-host-tests/`` and reused.

``official_static_dir()`` skips the calling test, with the reason, only when PyPI cannot be reached.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import string
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The default is the newest release that installs on Python 3.11, whose UI the devstack answers in
# full; WEBUI_HOST_OFFICIAL_WEBUI_VERSION=26.9.6 (the newest here) runs the suite against a newer bundle.
VERSION = os.environ.get("WEBUI_HOST_OFFICIAL_WEBUI_VERSION", "23.9.10")
NEWER_VERSION = "26.9.6"  # the newest release on the index here: its start page is walked in every run too
NEWER_SERIES = 24  # releases from 24.03 on need Python 3.12+ (26.x: 3.13): pip must be told which


def _python_for(version: str) -> list[str]:
    """We only unpack the wheel's static files, so any Python it supports will do for the download."""
    major = int(version.split(".", 1)[0])
    return ["--python-version", "3.13" if major >= 26 else "3.12"] if major >= NEWER_SERIES else []


CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webui-host-tests"
STATIC_IN_WHEEL = "ai/backend/web/static/"


def _download_wheel(version: str) -> Path:
    # Wheel names changed with the packaging tools: backend.ai_webserver-23.9.10, backend_ai_webserver-26.9.6.
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(f"backend[._]ai_webserver-{version}-*.whl"))
    if found:
        return found[0]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--retries",
        "1",
        "--timeout",
        "20",
        *_python_for(version),
        "-d",
        str(wheels),
        f"backend.ai-webserver=={version}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("PyPI did not answer within 300 s: cannot fetch the official Backend.AI Web UI")
    found = sorted(wheels.glob(f"backend[._]ai_webserver-{version}-*.whl"))
    if done.returncode != 0 or not found:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if any(word in done.stderr for word in ("Connection", "resolve", "Network", "timed out", "Max retries")):
            pytest.skip(f"PyPI cannot be reached, so the official Web UI cannot be fetched: {reason}")
        raise RuntimeError(f"pip download backend.ai-webserver=={version} failed: {reason}")
    return found[0]


def official_static_dir(version: str = VERSION) -> Path:
    """The extracted bundle (index.html, dist/, static/, resources/ ...), extracted once."""
    target = CACHE / f"backend.ai-webserver-{version}"
    marker = target / ".complete"
    if not marker.exists():
        wheel = _download_wheel(version)
        partial = CACHE / f"{target.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(partial, [name for name in archive.namelist() if name.startswith(STATIC_IN_WHEEL)])
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (partial / STATIC_IN_WHEEL).rename(target / "static")
        shutil.rmtree(partial, ignore_errors=True)
        marker.write_text(wheel.name + "\n")
    return target / "static"


def encode_like_the_web_ui(plaintext: bytes, endpoint: str) -> str:
    """The Web UI's ``X-BackendAI-Encoded`` body (``getEncodedPayload`` in its client library)."""
    iv = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    key = (base64.b64encode(endpoint.encode()).decode() + iv + iv)[:32].encode()
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv.encode())).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    return iv + ":" + base64.b64encode(ciphertext).decode()
