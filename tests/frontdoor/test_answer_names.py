"""A proxied answer's headers decided by name from a bounded memo: the same headers as deciding every
name each time (main's ``downstream_headers`` kept here as the reference), whatever the spelling."""

from __future__ import annotations

import random

from multidict import CIMultiDict, CIMultiDictProxy

from frontdoor import answer_names
from frontdoor.answer_names import ANSWER_HEADERS_OF_OURS, HOP_BY_HOP, MAX_ANSWER_NAMES
from frontdoor.upstream import PROXIED_POLICY, contained_cookie, cookie_rules, downstream_headers

NAMES = [
    *HOP_BY_HOP,
    *ANSWER_HEADERS_OF_OURS,
    "set-cookie",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "access-control-",
    "access-control",
    "access-controlx",
    "access-control.",
    "content-type",
    "content-length",
    "date",
    "x-content-type-options",
    "vary",
    "x-request-id",
    "set-cookie2",
    "servers",
]
VALUES = ["1", "a=1; Path=/x; Domain=example.com", "AIOHTTP_SESSION=evil", "=nameless", "x", ""]


def reference(upstream, cookies) -> CIMultiDict:
    """``downstream_headers`` as main had it (every name lower-cased and decided at each header)."""
    headers = CIMultiDict()
    for name, value in upstream.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in ANSWER_HEADERS_OF_OURS or lower.startswith("access-control-"):
            continue
        if lower == "set-cookie":
            value = contained_cookie(value, cookies)
            if value is None:
                continue
        headers.add(name, value)
    headers.add("Content-Security-Policy", PROXIED_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    return headers


def spelling(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def test_answers_of_varied_spellings_get_the_headers_deciding_each_name_gives():
    rng = random.Random(10)
    rules = [
        cookie_rules("AIOHTTP_SESSION", "sToken", "/func", True),
        cookie_rules("AIOHTTP_SESSION", "sToken", "/webapi/x", False),
    ]
    for _ in range(3000):  # thousands of spellings: past the memo's room
        head = [(spelling(rng.choice(NAMES), rng), rng.choice(VALUES)) for _ in range(rng.randint(0, 12))]
        upstream = CIMultiDictProxy(CIMultiDict(head))
        cookies = rng.choice(rules)
        assert list(downstream_headers(upstream, cookies=cookies).items()) == list(
            reference(upstream, cookies).items()
        ), head
    assert len(answer_names.ANSWER_NAME_KINDS) == MAX_ANSWER_NAMES  # full, and no larger


def test_a_name_is_decided_as_it_was_whether_remembered_or_not():
    for name in NAMES:
        for spelt in (name, name.upper(), name.title()):
            first = answer_names.answer_name_kind(spelt)
            assert answer_names.answer_name_kind(spelt) == first
            lower = spelt.lower()
            dropped = lower in HOP_BY_HOP or lower in ANSWER_HEADERS_OF_OURS or lower.startswith("access-control-")
            expected = "dropped" if dropped else "set-cookie" if lower == "set-cookie" else "relayed"
            assert first == expected, spelt
