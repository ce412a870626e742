"""What the audit trail records, as typed values.

:class:`AuditEntry` is what a caller hands in (one interaction: who, through which adapter,
did what, with what outcome); :class:`AuditRecord` is what the trail stored, with its place
in the chain. Large texts (prompts, responses, command output) are not in the record: it
holds their SHA-256, and the text lives in a side table that retention may prune.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logomesh.canonical import canonical_json
from logomesh.commands.values import Outcome, Source, new_id


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One interaction to record. Secrets are redacted by the trail, not by the caller."""

    actor: str
    source: Source
    action: str
    outcome: Outcome
    target: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_ms: float = 0.0
    correlation_id: str | None = None
    parent_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    prompt: str | None = None
    response: str | None = None
    output: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    id: str = field(default_factory=new_id)
    timestamp: datetime | None = None


# The record's fields in the order they are stored; every one but ``hash`` is hashed.
HASHED_FIELDS = (
    "seq",
    "id",
    "timestamp",
    "actor",
    "source",
    "action",
    "target",
    "arguments",
    "outcome",
    "error",
    "duration_us",
    "correlation_id",
    "parent_id",
    "details",
    "model",
    "prompt_hash",
    "response_hash",
    "output_hash",
    "tokens_in",
    "tokens_out",
    "prev_hash",
)
PAYLOAD_FIELDS = ("prompt_hash", "response_hash", "output_hash")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored audit record and its place in the hash chain."""

    seq: int
    id: str
    timestamp: str
    actor: str
    source: str
    action: str
    target: str | None
    arguments: dict[str, Any]
    outcome: str
    error: str | None
    duration_us: int
    correlation_id: str | None
    parent_id: str | None
    details: dict[str, Any]
    model: str | None
    prompt_hash: str | None
    response_hash: str | None
    output_hash: str | None
    tokens_in: int | None
    tokens_out: int | None
    prev_hash: str
    hash: str

    def hashed_content(self) -> dict[str, Any]:
        """The values the hash covers: arguments and details as their canonical JSON text,
        exactly as the table stores them, so hashing never re-encodes nested values."""
        content = {name: getattr(self, name) for name in HASHED_FIELDS}
        content["arguments"] = canonical_json(self.arguments)
        content["details"] = canonical_json(self.details)
        return content

    def to_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in HASHED_FIELDS}, "hash": self.hash}

    @property
    def duration_ms(self) -> float:
        return self.duration_us / 1000
