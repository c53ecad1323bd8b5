"""The daemon's decoding of X-BackendAI-Encoded bodies (no I/O), and the command over its real socket."""

import base64

import pytest

from contract.session_commands import DecodeBody
from contract.session_results import BodyDecoded, BodyUndecodable
from session_daemon.encoded_body import UndecodableBody, decode_body, decode_command
from tests.session_daemon.harness import Running

VECTOR = "abcdefghijklmnop:DXzMo4CWTzpguemUD8TN5ODh0ywc6X5UTWRrUkuzI+AZhJ/3gAPnQM98COB1/g3P2eS1M2dYFmV0X4ZySZXB3g=="
PLAINTEXT = b'{"username":"admin@lablup.com","password":"wJalrXUt"}'


def test_reference_vector():
    assert decode_body(VECTOR, "http://127.0.0.1:8090") == PLAINTEXT


@pytest.mark.parametrize(
    "body",
    ["short:abc", "abcdefghijklmnop:!!notbase64!!", "abcdefghijklmnop:" + "A" * 22, "é" * 40, "nocolon"],
)
def test_garbage_is_a_clear_error(body):
    with pytest.raises(UndecodableBody):
        decode_body(body, "http://127.0.0.1:8090")


def test_wrong_endpoint_does_not_decode_to_the_same_plaintext():
    try:
        assert decode_body(VECTOR, "http://127.0.0.1:9999") != PLAINTEXT
    except UndecodableBody:
        pass


def test_the_answer_carries_the_plaintext_in_base64_or_says_it_does_not_decode():
    decoded = decode_command(DecodeBody(VECTOR, "http://127.0.0.1:8090"))
    assert decoded == BodyDecoded(base64.b64encode(PLAINTEXT).decode())
    assert "wJalrXUt" not in repr(decoded)  # a password never reaches a log line through a repr
    assert decode_command(DecodeBody("abcdefghijklmnop:AAAA", "http://127.0.0.1:8090")) == BodyUndecodable()


async def test_the_daemon_decodes_over_its_socket(env: Running):
    commands = [DecodeBody(VECTOR, "http://127.0.0.1:8090"), DecodeBody("nocolon", "http://127.0.0.1:8090")]
    decoded, undecodable = await env.client.call_many(commands)
    assert isinstance(decoded, BodyDecoded) and base64.b64decode(decoded.body) == PLAINTEXT
    assert undecodable == BodyUndecodable()
