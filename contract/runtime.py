"""Where each process finds its sockets, key files and servers, given the configuration."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from contract.config import Config
from contract.identity import JWKS_FILE, SIGNING_KEY_FILE, jwks_document, load_signing_key, new_signing_key_pem
from contract.messages import write_shared_key
from contract.redis_layout import ROLES, SecretBox

ZMQ_KEY_FILE = "zmq.key"
AT_REST_KEY_FILE = "at-rest.key"
REDIS_ADMIN = "admin"


def redis_password_file(secrets_dir: Path, role: str) -> Path:
    return secrets_dir / f"redis-{role}.password"


def ensure_private_dir(path: Path) -> Path:
    """Create (or tighten) a directory only its owner may enter."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def ensure_secrets(secrets_dir: Path) -> None:
    """Generate any missing key or password file (0600) in a 0700 directory; never overwrite."""
    ensure_private_dir(secrets_dir)
    if not (secrets_dir / ZMQ_KEY_FILE).exists():
        write_shared_key(secrets_dir / ZMQ_KEY_FILE)
    if not (secrets_dir / AT_REST_KEY_FILE).exists():
        SecretBox.write_new_key(secrets_dir / AT_REST_KEY_FILE)
    ensure_identity_key(secrets_dir)
    for role in (*ROLES, REDIS_ADMIN):
        path = redis_password_file(secrets_dir, role)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")


def ensure_identity_key(secrets_dir: Path) -> None:
    """The signers' identity-assertion key (0600) and its public JWKS (0644), made once."""
    key_path, jwks_path = secrets_dir / SIGNING_KEY_FILE, secrets_dir / JWKS_FILE
    if not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(new_signing_key_pem())
    if not jwks_path.exists():
        document = jwks_document([load_signing_key(key_path.read_bytes())])
        temporary = jwks_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1))
        os.chmod(temporary, 0o644)
        temporary.replace(jwks_path)


def read_redis_password(config: Config, role: str) -> str:
    return redis_password_file(config.secrets_dir, role).read_text().strip()


def redis_client(config: Config, role: str, **options) -> aioredis.Redis:
    """A Redis client logged in as the process's own ACL user.

    It fails fast (two quick retries) during an outage: redis-py's default retries for seconds,
    which would stall every request instead of answering 503.
    """
    host, _, port = config.redis_addr.rpartition(":")
    return aioredis.Redis(
        host=host,
        port=int(port),
        db=config.session.redis.db,
        username=role,
        password=read_redis_password(config, role),
        socket_connect_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=2),
        **options,
    )


def signer_endpoint(config: Config, agent_id: str) -> str:
    return f"ipc://{config.ipc_dir / ('signer-' + agent_id + '.sock')}"


def session_daemon_endpoint(config: Config) -> str:
    return f"ipc://{config.ipc_dir / 'session-daemon.sock'}"
