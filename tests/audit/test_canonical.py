"""Properties of the canonical encoding and the record hash that the whole chain rests on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from logomesh.audit.chain import ChainWalk, record_hash
from logomesh.audit.models import HASHED_FIELDS, AuditRecord
from logomesh.canonical import (
    GENESIS_HASH,
    canonical_json,
    format_timestamp,
    parse_timestamp,
    to_jsonable,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


def _reordered(value: Any) -> Any:
    """The same JSON value with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@given(json_values)
def test_canonical_json_ignores_key_order(value: Any) -> None:
    """Two dicts with the same items encode to the same text whatever their insertion order."""
    assert canonical_json(_reordered(value)) == canonical_json(value)


@given(json_values)
def test_canonical_json_round_trips_through_json(value: Any) -> None:
    """Decoding canonical text and encoding again is a fixed point (what verify relies on)."""
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@given(st.text())
def test_canonical_json_keeps_unicode_as_utf8(text: str) -> None:
    """Strings are not \\u-escaped, so bytes are the same on every platform and locale."""
    encoded = canonical_json({"s": text})
    assert json.loads(encoded) == {"s": text}
    if text.isprintable() and '"' not in text and "\\" not in text:
        assert text in encoded


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_non_finite_floats(bad: float) -> None:
    """NaN and infinity have no canonical JSON form, so they cannot enter a hash."""
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_canonical_json_has_no_insignificant_whitespace() -> None:
    """Separators are fixed, so formatting cannot differ between writers."""
    assert canonical_json({"b": [1, 2], "a": {"c": None}}) == '{"a":{"c":null},"b":[1,2]}'


@given(aware_datetimes)
def test_timestamps_round_trip(moment: datetime) -> None:
    """parse(format(t)) is the same instant, in UTC, to the microsecond."""
    text = format_timestamp(moment)
    assert text.endswith("Z") and len(text) == len("2026-11-23T10:00:00.000000Z")
    parsed = parse_timestamp(text)
    assert parsed == moment
    assert parsed.tzinfo is UTC
    assert format_timestamp(parsed) == text


@given(aware_datetimes, aware_datetimes)
def test_timestamp_text_sorts_in_time_order(a: datetime, b: datetime) -> None:
    """Text comparison of stored timestamps agrees with time order (the query index uses it)."""
    assert (format_timestamp(a) < format_timestamp(b)) == (a < b)


def test_naive_timestamps_are_refused() -> None:
    """A naive datetime is ambiguous; the audit trail will not guess its zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 1, 12, 0))


@given(st.sets(st.integers() | st.text(max_size=5), max_size=8))
def test_to_jsonable_sorts_sets_deterministically(items: set[Any]) -> None:
    """Set iteration order varies between runs; its JSON form must not."""
    as_json = to_jsonable(items)
    assert as_json == to_jsonable(set(reversed(list(items))))
    assert sorted(as_json, key=canonical_json) == as_json


def test_to_jsonable_makes_non_json_values_plain() -> None:
    """Paths, bytes, tuples and non-finite floats become values canonical_json accepts."""
    from pathlib import Path

    value = to_jsonable(
        {"p": Path("/tmp/x"), "b": b"hi", "t": (1, 2), "f": float("nan"), 3: "int key"}
    )
    assert value == {"p": "/tmp/x", "b": "hi", "t": [1, 2], "f": None, "3": "int key"}
    canonical_json(value)


def _content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "seq": 7,
        "id": "a" * 32,
        "timestamp": "2026-11-23T10:00:00.000000Z",
        "actor": "alice",
        "source": "cli",
        "action": "status",
        "target": None,
        "arguments": {"limit": 5},
        "outcome": "ok",
        "error": None,
        "duration_us": 1200,
        "correlation_id": "c" * 32,
        "parent_id": None,
        "details": {"risk": "read"},
        "model": None,
        "prompt_hash": None,
        "response_hash": "d" * 64,
        "output_hash": None,
        "tokens_in": 3,
        "tokens_out": None,
        "prev_hash": GENESIS_HASH,
    }
    assert set(content) == set(HASHED_FIELDS)
    content.update(overrides)
    return content


replacement_values = st.none() | st.integers() | st.text() | st.dictionaries(st.text(), st.text())


@given(st.sampled_from(HASHED_FIELDS), replacement_values)
def test_record_hash_changes_when_any_hashed_field_changes(name: str, new: Any) -> None:
    """Every hashed field is covered: altering any one of them changes the hash."""
    original = _content()
    assume(new != original[name] or type(new) is not type(original[name]))
    assert record_hash(_content(**{name: new})) != record_hash(original)


def test_chain_walk_catches_a_changed_field_of_a_single_record() -> None:
    """A record whose content no longer matches its stored hash is the first break."""
    content = _content(seq=1)
    record = AuditRecord(
        **content, hash=record_hash(AuditRecord(**content, hash="").hashed_content())
    )
    walk = ChainWalk()
    walk.feed([record])
    assert walk.first_break is None

    forged = AuditRecord(**{**content, "actor": "mallory"}, hash=record.hash)
    walk = ChainWalk()
    walk.feed([forged])
    assert walk.first_break is not None
    assert walk.first_break.seq == 1
    assert "content was changed" in walk.first_break.reason


@given(aware_datetimes)
def test_timestamps_are_formatted_exactly_as_strftime_did(moment: datetime) -> None:
    """Records written before the hand-written formatter hashed strftime's text."""
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_timestamp(moment) == expected
