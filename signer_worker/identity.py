"""The signer's half of identity assertions: the ES256 key, loaded once, and the header it signs."""

from __future__ import annotations

import logging
import time

from contract.config import Config
from contract.config_sections import WebApiConfig
from contract.identity import ASSERTION_HEADER, SIGNING_KEY_FILE, assertion, load_signing_key, public_jwk
from contract.redis_layout import SecretRecord
from signer_worker.signing import Keypair

log = logging.getLogger(__name__)


class IdentitySigner:
    def __init__(self, key=None):
        self._key = key
        self._kid = public_jwk(key)["kid"] if key is not None else ""

    @classmethod
    def from_secrets(cls, config: Config) -> IdentitySigner:
        """The key from the secrets directory; without one, ``identity`` deployments are this agent's fault."""
        path = config.secrets_dir / SIGNING_KEY_FILE
        try:
            return cls(load_signing_key(path.read_bytes()))
        except (OSError, ValueError) as exc:
            log.warning("no identity signing key", extra={"event": "identity_key_missing", "error": type(exc).__name__})
            return cls()

    @property
    def ready(self) -> bool:
        return self._key is not None

    def headers(self, deployment: str, record: SecretRecord | Keypair, settings: WebApiConfig) -> dict[str, str]:
        token = assertion(
            self._key,
            self._kid,
            issuer=settings.identity_issuer,
            audience=deployment,
            user_id=record.user_id,
            role=record.role,
            lifetime=settings.identity_lifetime,
            now=time.time(),
        )
        return {ASSERTION_HEADER: token}
