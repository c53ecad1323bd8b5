"""The shared JSON-body parser: objects of sensible depth pass, everything else is InvalidJsonBody."""

from __future__ import annotations

import pytest

from frontdoor.json_body import MAX_DEPTH, InvalidJsonBody, parse_object


def nested(depth: int) -> str:
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"", {}),
        (b'{"username": "a@b.c", "password": "x"}', {"username": "a@b.c", "password": "x"}),
        (b'{"a": [1, {"b": [2]}]}', {"a": [1, {"b": [2]}]}),
        (nested(MAX_DEPTH).encode(), None),  # exactly at the bound
    ],
)
def test_objects_of_sensible_depth_pass(raw, expected):
    document = parse_object(raw)
    assert document == expected if expected is not None else isinstance(document, dict)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (nested(MAX_DEPTH + 1), "nests deeper"),
        ('{"a": ' + '{"x": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH + "}", "nests deeper"),
        ("[" * 1000 + "]" * 1000, "nests deeper"),  # RecursionError inside json, not a 500
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests deeper"),
        ('{"a": ' + "[" * 1000, "nests deeper"),  # unterminated as well as deep
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ("null", "JSON object"),
        ("{", "not valid JSON"),
        ("\xff", "not valid JSON"),
        ("NaN", "JSON object"),
    ],
)
def test_everything_else_is_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidJsonBody, match=reason):
        parse_object(raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw)
