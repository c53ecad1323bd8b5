"""The session record decoder: whatever Redis hands back (tampered, truncated, hostile) becomes a
record or a ValueError, never another exception, and good records round-trip exactly."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.redis_layout import SessionRecord

GOOD = SessionRecord(
    "user@lablup.com", "AKIANABBDUSEREXAMPLE", "user", "active", 1.0e9, 1.0e9 + 1, 1.0e9 + 3600, {"theme": "dark"}
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)


def decodes_or_refuses(raw) -> SessionRecord | None:
    try:
        return SessionRecord.from_json(raw)
    except ValueError:
        return None


def test_round_trip():
    assert SessionRecord.from_json(GOOD.to_json()) == GOOD
    assert SessionRecord.from_json(GOOD.to_json().encode()) == GOOD


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(raw):
    decodes_or_refuses(raw)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(list(json.loads(GOOD.to_json()))), value=JSON_VALUES, drop=st.booleans())
def test_a_good_record_with_one_field_broken(field, value, drop):
    doc = json.loads(GOOD.to_json())
    if drop:
        del doc[field]
    else:
        doc[field] = value
    record = decodes_or_refuses(json.dumps(doc))
    if record is not None:
        assert all(isinstance(getattr(record, name), str) for name in ("user_id", "access_key", "role", "status"))
        assert all(math.isfinite(getattr(record, name)) for name in ("created_at", "last_accessed", "expires_at"))
        assert isinstance(record.preferences, dict)
        assert SessionRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the decoder's stack
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        GOOD.to_json().replace("1000003600.0", "9" * 500),  # too large for a float
        GOOD.to_json().replace("1000003600.0", "1e999"),  # infinite: such a session would never expire
        GOOD.to_json().replace("1000003600.0", "NaN"),
        GOOD.to_json().replace('{"theme":"dark"}', '"ab"'),
        GOOD.to_json()[:-5],
        b"\xff\xfe{}",
        "null",
        "",
    ],
)
def test_hostile_records_are_refused(raw):
    with pytest.raises(ValueError):
        SessionRecord.from_json(raw)
