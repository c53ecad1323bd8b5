import pytest

from frontdoor.encoded_body import UndecodableBody, decode_body, is_encoded

VECTOR = b"abcdefghijklmnop:DXzMo4CWTzpguemUD8TN5ODh0ywc6X5UTWRrUkuzI+AZhJ/3gAPnQM98COB1/g3P2eS1M2dYFmV0X4ZySZXB3g=="


def test_reference_vector():
    assert decode_body(VECTOR, "http://127.0.0.1:8090") == b'{"username":"admin@lablup.com","password":"wJalrXUt"}'


@pytest.mark.parametrize(
    "body",
    [b"short:abc", b"abcdefghijklmnop:!!notbase64!!", b"abcdefghijklmnop:" + b"A" * 22, b"\xff" * 40, b"nocolon"],
)
def test_garbage_is_a_clear_error(body):
    with pytest.raises(UndecodableBody):
        decode_body(body, "http://127.0.0.1:8090")


def test_wrong_endpoint_does_not_decode_to_the_same_plaintext():
    try:
        assert decode_body(VECTOR, "http://127.0.0.1:9999") != decode_body(VECTOR, "http://127.0.0.1:8090")
    except UndecodableBody:
        pass


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("false", False), (None, False)])
def test_header_truthiness(value, expected):
    assert is_encoded(value) is expected


def test_empty_body():
    assert decode_body(b"", "http://x") == b""
