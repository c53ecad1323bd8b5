"""Backend.AI's ``X-BackendAI-Encoded`` request bodies (the Web UI sends its login and its password
change this way), decoded here for the front door (``contract.session_commands.DecodeBody``).

The scheme is obfuscation, not secrecy (the key derives from the public endpoint URL and an IV sent
in the clear); we decode it only so the official Web UI works unmodified.  The daemon does it because
it holds the cipher library anyway (the at-rest box): a front door would load ~7 MiB for it.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from contract.session_commands import DecodeBody
from contract.session_results import BodyDecoded, BodyUndecodable, SessionResult

IV_LENGTH = 16


class UndecodableBody(ValueError):
    pass


def decode_body(body: str, endpoint: str) -> bytes:
    """Decrypt ``<16-char iv>:<base64 ciphertext>`` (AES-CBC, PKCS#7) for ``endpoint``."""
    iv_text, _, ciphertext_b64 = body.strip().partition(":")
    if len(iv_text) != IV_LENGTH:
        raise UndecodableBody("the IV must be 16 characters")
    try:
        key = (base64.b64encode(endpoint.encode()).decode() + iv_text + iv_text)[:32].encode()
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv_text.encode())).decryptor()
        padded = decryptor.update(base64.b64decode(ciphertext_b64, validate=True)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise UndecodableBody(str(exc) or "undecodable body") from None


def decode_command(command: DecodeBody) -> SessionResult:
    """The daemon's answer: the plaintext in base64 (it may be any bytes), or that it does not decode."""
    try:
        plaintext = decode_body(command.body, command.endpoint)
    except UndecodableBody:
        return BodyUndecodable()
    return BodyDecoded(base64.b64encode(plaintext).decode("ascii"))
