"""What the front door checks of an X-BackendAI-Encoded body before the daemon decodes it (no I/O)."""

import pytest

from contract.session_commands import MAX_ENCODED_BODY
from frontdoor.encoded_body import UndecodableBody, is_encoded, wire_text


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("1", True), (" Yes ", True), ("false", False), (None, False)]
)
def test_header_truthiness(value, expected):
    assert is_encoded(value) is expected


def test_the_body_travels_stripped():
    assert wire_text(b"  abcdefghijklmnop:QUJD\r\n") == "abcdefghijklmnop:QUJD"


@pytest.mark.parametrize(
    "body",
    [b"\xff" * 40, "é:abc".encode(), b"abcdefghijklmnop:QU\nJD", b"a" * (MAX_ENCODED_BODY + 1)],
)
def test_what_the_hop_would_refuse_is_undecodable_here(body):
    with pytest.raises(UndecodableBody):
        wire_text(body)
