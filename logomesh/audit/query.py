"""Filters over the audit trail, and the time expressions people type into them.

A filter is a typed value that every adapter builds the same way (``--since 2h`` on the
command line, ``since=2h`` in chat); :func:`apply_filter` turns it into SQL once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select

from logomesh.canonical import format_timestamp
from logomesh.errors import InvalidArgumentsError
from logomesh.storage.tables import audit_records

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """``90d``, ``2h``, ``15m``, ``30s``, ``1w`` -> timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise InvalidArgumentsError(
            f"`{field}`: {text!r} is not a duration. Use a number and a unit, e.g. 30s, "
            "15m, 2h, 90d or 1w."
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


def parse_when(text: str, *, field: str = "time", now: datetime | None = None) -> datetime:
    """A moment given as ISO 8601 (``2026-11-23``, ``2026-11-23T10:00``) or as an age (``2h``)."""
    now = now or datetime.now(UTC)
    if _DURATION.match(text):
        return now - parse_duration(text, field=field)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgumentsError(
            f"`{field}`: {text!r} is neither an ISO date/time (2026-11-23T10:00) nor an "
            "age (2h, 7d)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuditFilter:
    """Which records to return. ``action`` accepts ``*`` wildcards (``audit.*``)."""

    actor: str | None = None
    action: str | None = None
    source: str | None = None
    outcome: str | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = 50
    oldest_first: bool = False


def apply_filter(statement: Select[Any], where: AuditFilter) -> Select[Any]:
    table = audit_records
    if where.actor:
        statement = statement.where(table.c.actor == where.actor)
    if where.action:
        if "*" in where.action:
            pattern = where.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            statement = statement.where(table.c.action.like(pattern.replace("*", "%"), escape="\\"))
        else:
            statement = statement.where(table.c.action == where.action)
    if where.source:
        statement = statement.where(table.c.source == where.source)
    if where.outcome:
        statement = statement.where(table.c.outcome == where.outcome)
    if where.correlation_id:
        statement = statement.where(table.c.correlation_id == where.correlation_id)
    if where.since:
        statement = statement.where(table.c.timestamp >= format_timestamp(where.since))
    if where.until:
        statement = statement.where(table.c.timestamp <= format_timestamp(where.until))
    statement = statement.order_by(table.c.seq if where.oldest_first else table.c.seq.desc())
    if where.limit is not None:
        statement = statement.limit(where.limit)
    return statement
