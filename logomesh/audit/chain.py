"""The hash chain: how a record's hash is computed and how a sequence of records is checked.

Each record's hash covers its canonical encoding, which includes its sequence number and the
previous record's hash. Changing a record breaks its own hash; deleting or reordering records
breaks the sequence or the link to the previous hash. What the chain alone cannot catch (a
whole chain recomputed, or records cut off the end) the signed checkpoints catch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from logomesh.audit.models import AuditRecord
from logomesh.canonical import GENESIS_HASH, canonical_bytes, sha256_hex


def record_hash(content: dict[str, object]) -> str:
    return sha256_hex(canonical_bytes(content))


@dataclass(frozen=True)
class ChainBreak:
    """The first record where the chain stops holding, and why."""

    seq: int
    record_id: str | None
    reason: str


@dataclass
class ChainWalk:
    """Running state of a chain check, so records can be streamed in batches."""

    checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    first_break: ChainBreak | None = None

    def feed(self, records: Iterable[AuditRecord]) -> None:
        for record in records:
            if self.first_break is not None:
                return
            self.first_break = self._check(record)
            self.checked += 1
            self.last_seq, self.last_hash = record.seq, record.hash

    def _check(self, record: AuditRecord) -> ChainBreak | None:
        if record.seq != self.last_seq + 1:
            if record.seq > self.last_seq + 1:
                missing = f"{self.last_seq + 1}" + (
                    f"-{record.seq - 1}" if record.seq - 1 > self.last_seq + 1 else ""
                )
                return ChainBreak(record.seq, record.id, f"record(s) {missing} are missing")
            return ChainBreak(record.seq, record.id, "sequence numbers are out of order")
        if record.prev_hash != self.last_hash:
            return ChainBreak(
                record.seq,
                record.id,
                "its previous-hash does not match the record before it "
                "(a record was changed, deleted or reordered)",
            )
        computed = record_hash(record.hashed_content())
        if computed != record.hash:
            return ChainBreak(
                record.seq,
                record.id,
                f"its content was changed (stored hash {record.hash[:12]}..., "
                f"content hashes to {computed[:12]}...)",
            )
        return None
