"""Each process loads what its role uses: imports are most of a process's start time and memory."""

from __future__ import annotations

import ast

from tests.support.imports import modules_loaded_by, packages
from tests.support.paths import REPO_ROOT


def test_a_signer_loads_no_http_framework():
    # The skeleton's logging filter scrubs aiohttp's parser errors; a signer serves no HTTP and has none.
    loaded = packages(modules_loaded_by("service_runtime.process", "signer_worker.service"))
    assert "aiohttp" not in loaded
    assert "jinja2" not in loaded


def test_no_process_loads_the_opentelemetry_metrics_sdk():
    # redis-py would load it for OTel metrics of its own, which nothing here turns on.
    loaded = modules_loaded_by("service_runtime.process", "signer_worker.service", "frontdoor.lifecycle")
    assert "redis.asyncio" in loaded
    assert not any(name.startswith("opentelemetry.sdk.metrics") for name in loaded)


def test_no_process_loads_grpc():
    # etcd is spoken to over its HTTP/JSON gateway: gRPC's library (~20 MiB and ~0.1 s per process,
    # and its threads) and protobuf are not loaded by any process of ours.
    entries = {
        "front door": ("service_runtime.process", "frontdoor.lifecycle"),
        "signer": ("service_runtime.process", "signer_worker.service"),
        "session daemon": ("service_runtime.process", "session_daemon.service"),
        "CLI's etcd commands": ("webui_host.cli", "webui_host.webapi_cli", "webui_host.roll", "service_runtime.etcd"),
    }
    for role, modules in entries.items():
        loaded = packages(modules_loaded_by(*modules))
        assert not loaded & {"grpc", "aetcd"}, role
        assert not any(name.startswith("google.protobuf") for name in modules_loaded_by(*modules)), role


def test_the_front_door_loads_no_cryptography_or_jwt():
    # It holds no key: it serves the public JWKS file as it is and never opens a sealed secret. It loads
    # cryptography (~7 MiB of Rust bindings) at its first X-BackendAI-Encoded body, PyJWT (~2 MiB, ~60 ms)
    # at its first /pipeline call; both came at start with two constants of contract.identity.
    loaded = modules_loaded_by("service_runtime.process", "frontdoor.lifecycle")
    assert "frontdoor.jwks" in loaded
    assert "cryptography.hazmat.bindings._rust" not in loaded
    assert "jwt" not in loaded


def test_the_session_daemon_loads_no_jwt():
    # It seals secrets (AES-GCM) but signs no token: PyJWT belongs to the signers.
    loaded = modules_loaded_by("service_runtime.process", "session_daemon.service")
    assert "service_runtime.keyfiles" in loaded
    assert "jwt" not in loaded


def test_no_process_loads_pydantic():
    # The configuration is checked by contract.fields: pydantic and its core cost every process
    # ~10-14 MiB of RSS and ~0.2 s of imports and model building at start.
    entries = {
        "front door": ("service_runtime.process", "frontdoor.lifecycle"),
        "signer": ("service_runtime.process", "signer_worker.service"),
        "session daemon": ("service_runtime.process", "session_daemon.service"),
        "launcher's run": ("webui_host.cli", "webui_host.host_setup"),
    }
    for role, modules in entries.items():
        loaded = packages(modules_loaded_by(*modules))
        assert "contract" in loaded, role
        assert not loaded & {"pydantic", "pydantic_core"}, role


def test_the_session_daemon_loads_no_http_framework():
    # Its four kinds of Manager POST go over service_runtime.http1: aiohttp cost it ~9-13 MiB and ~0.2 s.
    loaded = modules_loaded_by("service_runtime.process", "session_daemon.service")
    assert "service_runtime.http1" in loaded
    assert "aiohttp" not in packages(loaded)


def test_the_signers_and_the_session_daemon_load_no_yarl():
    # yarl (with multidict, propcache and idna, ~1.5 MiB) came with one URL check of the pipeline
    # configuration; urllib's parser gives the same verdicts. The front door has it through aiohttp.
    entries = {
        "signer": ("service_runtime.process", "signer_worker.service"),
        "session daemon": ("service_runtime.process", "session_daemon.service"),
    }
    for role, modules in entries.items():
        assert not packages(modules_loaded_by(*modules)) & {"yarl", "multidict", "propcache"}, role


def test_the_version_and_the_configuration_load_no_importlib_metadata_or_resources():
    # Every process and the launcher import both: importlib.metadata scanned the installed distributions
    # (~3.5 ms) and importlib.resources brought tempfile, shutil and zipfile. The launcher's run path now
    # loads none of them (the roles still get importlib.metadata from redis-py, which imports it itself).
    loaded = modules_loaded_by("contract.config", "service_runtime.version")
    assert not loaded & {"importlib.metadata", "importlib.resources", "tempfile", "zipfile", "frontdoor"}


# ---- the front door never loads the cipher library, on any path a browser can reach ----

CIPHER_PACKAGES = frozenset({"cryptography", "jwt"})  # PyJWT imports cryptography whenever it is installed
SHARED_PACKAGES = ("contract", "service_runtime")


def _imported_packages(tree: ast.AST) -> set[str]:
    """Every package a module imports, also inside functions (a browser's request can run those)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _identifiers(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[-1])
    return names


def cipher_users() -> set[str]:
    """Names of the shared packages' functions and classes that load the cipher library, directly or
    through another such name (by bare name: coarse, so it errs towards flagging)."""
    definitions = []
    for package in SHARED_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            definitions += [
                n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            ]
    users = {d.name for d in definitions if _imported_packages(d) & CIPHER_PACKAGES}
    while True:
        more = {d.name for d in definitions if d.name not in users and _identifiers(d) & users}
        if not more:
            return users
        users |= more


def test_no_front_door_module_loads_the_cipher_library_even_late():
    # A function-level import is one a browser can trigger: the first encoded login loaded cryptography
    # (~7 MiB, for the rest of the process) that way, the first /pipeline call PyJWT and cryptography.
    # The session daemon decodes those bodies; the pipeline JWT is written with hmac.
    users = cipher_users()
    assert {"SecretBox", "load_signing_key"} <= users  # the guard sees the lazy imports of contract
    for path in (REPO_ROOT / "frontdoor").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        assert not _imported_packages(tree) & CIPHER_PACKAGES, path
        assert not _identifiers(tree) & users, path
