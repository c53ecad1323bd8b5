"""Key and password files: generated once (0600 in a 0700 directory), refused when others may read them."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from contract.config import Config
from contract.host_layout import AT_REST_KEY_FILE, REDIS_ADMIN, ZMQ_KEY_FILE, redis_password_file
from contract.identity import JWKS_FILE, SIGNING_KEY_FILE, jwks_document, load_signing_key, new_signing_key_pem
from contract.messages import KEY_BYTES, key_file_problem
from contract.redis_layout import ROLES, SecretBox

AT_REST_KEY_BYTES = 32


def check_key_file(path: Path) -> None:
    info = path.stat()
    problem = key_file_problem(info.st_mode, info.st_gid, os.getgid())
    if problem is not None:
        raise PermissionError(f"{path} {problem}")


def load_shared_key(path: Path) -> bytes:
    """Read the ZeroMQ message key, refusing a file that others may read."""
    check_key_file(path)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path} holds a key shorter than {KEY_BYTES} bytes")
    return key


def write_shared_key(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")


def load_secret_box(path: Path) -> SecretBox:
    """The at-rest cipher for secret keys, from its key file (refused when others may read it)."""
    check_key_file(path)
    return SecretBox(bytes.fromhex(path.read_text().strip()))


def write_at_rest_key(path: Path) -> None:
    _write_new(path, secrets.token_hex(AT_REST_KEY_BYTES) + "\n")


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


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
        write_at_rest_key(secrets_dir / AT_REST_KEY_FILE)
    ensure_identity_key(secrets_dir)
    for role in (*ROLES, REDIS_ADMIN):
        path = redis_password_file(secrets_dir, role)
        if not path.exists():
            _write_new(path, secrets.token_urlsafe(32) + "\n")


def read_redis_password(config: Config, role: str) -> str:
    return redis_password_file(config.secrets_dir, role).read_text().strip()


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
