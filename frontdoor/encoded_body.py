"""Backend.AI's ``X-BackendAI-Encoded`` request bodies (the Web UI sends its login this way).

The scheme is obfuscation, not secrecy (the key derives from the public endpoint URL and an IV sent
in the clear); we decode it only so the official Web UI works unmodified.
"""

from __future__ import annotations

import base64
import binascii

TRUTHY = frozenset({"1", "true", "yes", "on", "t", "y"})


class UndecodableBody(ValueError):
    pass


def is_encoded(header_value: str | None) -> bool:
    return (header_value or "").strip().lower() in TRUTHY


def decode_body(body: bytes, endpoint: str) -> bytes:
    """Decrypt ``<16-char iv>:<base64 ciphertext>`` for the endpoint the browser believes it uses."""
    if not body.strip():
        return b""
    # Here: a front door needs cryptography (~7 MiB of Rust bindings) only once an encoded body comes.
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        iv_text, _, ciphertext_b64 = body.decode("ascii").strip().partition(":")
        if len(iv_text) != 16:
            raise UndecodableBody("the IV must be 16 characters")
        key = (base64.b64encode(endpoint.encode()).decode() + iv_text + iv_text)[:32].encode()
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv_text.encode())).decryptor()
        padded = decryptor.update(base64.b64decode(ciphertext_b64, validate=True)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (UnicodeDecodeError, binascii.Error, ValueError) as exc:
        raise UndecodableBody(str(exc) or "undecodable body") from None
