"""The canonical encoding that audit hashes are computed over.

A hash chain is only as good as its encoding: the same record must give the same bytes on
every machine, Python version and database. JSON with sorted keys, no insignificant white
space, UTF-8 and no NaN or infinity gives that; timestamps are strings fixed to microseconds
and UTC, and durations whole microseconds, so no float formatting enters the hash of a field
the engine writes itself.

It sits in the core, not in ``audit/``, because redaction (``security``) coerces arguments
with :func:`to_jsonable` before the audit trail ever sees them; it imports only the
standard library.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


# Built once: ``json.dumps`` with non-default options builds a new encoder on every call,
# and every audit append encodes three times. The encoder holds only these options.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON text for a JSON-compatible value (raises ValueError otherwise)."""
    return _ENCODER.encode(value)


def canonical_bytes(value: Any) -> bytes:
    return canonical_json(value).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: sortable as text and exact to re-hash."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    utc = moment.astimezone(UTC)
    # By hand: strftime costs five times as much, and every audit record pays it twice.
    return (
        f"{utc.year}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def to_jsonable(value: Any) -> Any:
    """Coerce arguments into plain JSON values (paths, enums, tuples, datetimes become text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
