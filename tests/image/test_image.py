"""The container image: built here by scripts/build-image (buildah over a debootstrap base, no registry,
an OCI archive), loaded from that archive into a private podman store, and run the way k8s/ runs it:
a session daemon, a signer and a front door, each its own container from the image, as user 10001 with
a read-only root filesystem, sharing one state volume (ipc sockets, metrics) and the keys read-only.
Redis, etcd and the development Manager run on the host (as the external services of k8s/). The
containers use the host's network namespace, so everything stays on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service_runtime.keyfiles import ensure_secrets
from tests.support.http_probe import signed_call_works
from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually_sync
from tests.support.ports import free_ports
from tests.support.servers import start_etcd, start_redis
from tests.support.stack import ADMIN_USER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"localhost/webui-host:{VERSION}"
UID = 10001
PODMAN = shutil.which("podman")


# What this machine needs (a VM with cgroup v1 and a v2 hierarchy beside it, no CAP_SYS_RESOURCE):
# crun refuses hybrid cgroups, runc accepts them; podman's default rlimits (nofile 1048576, nproc
# 32768) exceed what may be set here, so the containers get limits below the machine's own.
RUN_LIMITS = ["--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096"]


def _podman(store: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    # A private store (vfs: no overlay mounts needed) so the test neither sees nor leaves other images.
    argv = [
        PODMAN,
        "--root",
        str(store / "root"),
        "--runroot",
        str(store / "run"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
        "--runtime",
        "runc",
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args[:2])}: {done.stdout}{done.stderr}")
    return done


@pytest.fixture(scope="module")
def workdir():
    """Outside pytest's basetemp: concurrent pytest runs of the same user prune old basetemps, and this
    suite runs for minutes."""
    path = Path(tempfile.mkdtemp(prefix="webui-host-image-test.", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def archive(workdir) -> Path:
    out = workdir / "out"
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-image"), str(out)], capture_output=True, text=True, timeout=1500
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path == out / f"webui-host-{VERSION}.oci.tar" and path.stat().st_size > 10_000_000
    return path


@pytest.fixture(scope="module")
def store(archive, workdir) -> Path:
    if PODMAN is None:
        pytest.fail("podman is not installed (scripts/setup --test installs it)")
    store = workdir / "podman"
    _podman(store, "load", "-q", "-i", str(archive))
    yield store
    _podman(store, "rm", "-a", "-f", check=False)
    _podman(store, "system", "reset", "-f", check=False)  # vfs layers may hold root-only files


def test_image_runs_as_non_root_with_the_package(store):
    inspect = _podman(store, "image", "inspect", "--format", "{{.Config.User}} {{.Labels}}", IMAGE).stdout
    assert inspect.startswith(f"{UID}:{UID} ") and f"org.opencontainers.image.version:{VERSION}" in inspect
    done = _podman(
        store,
        "run",
        "--rm",
        "--read-only",
        *RUN_LIMITS,
        IMAGE,
        "sh",
        "-c",
        "id -u; webui-host --version; command -v pip || echo no-pip",
    )
    assert done.stdout.split("\n")[:3] == [str(UID), f"webui-host {VERSION}", "no-pip"], done.stdout


def test_frontdoor_signer_and_daemon_answer_from_the_image(store, tmp_path):
    service, ops, manager = free_ports(3)
    secrets = tmp_path / "secrets"
    ensure_secrets(secrets)
    redis = start_redis(tmp_path, secrets)
    etcd = start_etcd(tmp_path)
    devstack = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--host", "127.0.0.1", "--port", str(manager)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = tmp_path / "webui-host.toml"
    config.write_text(f"""
[service]
port = {service}
workers = 1
[api]
endpoint = ["http://127.0.0.1:{manager}"]
[session.redis]
addr = "{redis.addr}"
[etcd]
addr = "{etcd.addr}"
[signers]
count = 1
[runtime]
state_dir = "/var/lib/webui-host"
secrets_dir = "/etc/webui-host/secrets"
[ops]
port = {ops}
""")
    # The keys as a Kubernetes Secret gives them: owned by the pod's user, nobody else may read.
    for path in [state, secrets, *secrets.iterdir()]:
        os.chown(path, UID, UID)
    config.chmod(0o644)
    mounts = [
        "-v",
        f"{state}:/var/lib/webui-host",
        "-v",
        f"{secrets}:/etc/webui-host/secrets:ro",
        "-v",
        f"{config}:/etc/webui-host/webui-host.toml:ro",
    ]
    conf = ["-f", "/etc/webui-host/webui-host.toml"]
    names = []
    try:
        for name, argv in (
            ("sessiond", ["session_daemon", *conf]),
            ("signer", ["signer_worker", *conf, "--index", "0"]),
            ("frontdoor", ["frontdoor", *conf, "--worker", "0"]),
        ):
            # One hostname for the three, as a pod's containers share one: the front door counts the
            # signers of its own host.
            _podman(
                store,
                "run",
                "-d",
                "--name",
                f"wh-{name}-{service}",
                "--network",
                "host",
                "--hostname",
                "webui-host-pod",
                "--read-only",
                *RUN_LIMITS,
                *mounts,
                IMAGE,
                "python",
                "-m",
                *argv,
            )
            names.append(f"wh-{name}-{service}")
        ready = _readyz_status(ops)
        logs = "\n".join(_podman(store, "logs", "--tail", "20", n, check=False).stderr for n in names)
        assert ready == 200, logs
        assert signed_call_works(f"http://127.0.0.1:{service}", *ADMIN_USER), logs
        with urllib.request.urlopen(f"http://127.0.0.1:{service}/ui/login", timeout=5) as answer:
            assert answer.status == 200
    finally:
        for name in names:
            _podman(store, "rm", "-f", "-t", "5", name, check=False)
        devstack.terminate()
        devstack.wait(10)
        redis.stop()
        etcd.stop()


def _readyz_status(ops_port: int) -> int | None:
    """/readyz's status once the pod answers it, or None if it never did within the wait."""

    def status() -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/readyz", timeout=3) as answer:
                return answer.status
        except (urllib.error.URLError, OSError):
            return None

    try:
        return eventually_sync(status, timeout=90, interval=0.5, what="the pod's /readyz")
    except AssertionError:
        return None
