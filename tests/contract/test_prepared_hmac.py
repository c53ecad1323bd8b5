"""PreparedHmac is HMAC-SHA256: byte for byte what the stdlib computes, for every key length."""

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.prepared_hmac import PreparedHmac


@pytest.mark.parametrize("key_length", [0, 1, 31, 32, 63, 64, 65, 200])  # around the 64-byte block
@pytest.mark.parametrize("message", [b"", b"m", b"x" * 55, b"x" * 64, b"y" * 1000])  # around block ends
def test_it_is_the_stdlibs_hmac_sha256(key_length, message):
    key = bytes((index * 7 + 3) % 256 for index in range(key_length))
    prepared = PreparedHmac(key)
    assert prepared.digest(message) == hmac.digest(key, message, "sha256")
    assert prepared.hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_rfc_4231_case_2():
    prepared = PreparedHmac(b"Jefe")
    assert prepared.hexdigest(b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_each_message_starts_from_the_key_alone():
    prepared = PreparedHmac(b"k" * 32)
    first = prepared.digest(b"a")
    prepared.digest(b"b" * 100)
    assert prepared.digest(b"a") == first


@settings(max_examples=200, deadline=None)
@given(key=st.binary(max_size=150), message=st.binary(max_size=300))
def test_any_key_and_message(key, message):
    assert PreparedHmac(key).digest(message) == hmac.digest(key, message, "sha256")
