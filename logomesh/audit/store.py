"""Appending to and reading from the audit tables.

Appends take the database's write lock, read the chain head and insert under that one lock,
so any number of processes can write at once and still form a single valid chain. Secrets are
redacted here, on the one path into the table, so no caller can forget. Large texts go to the
payload table keyed by SHA-256 and are stored once however often they recur.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, select, union

from logomesh.audit.chain import record_hash
from logomesh.audit.models import PAYLOAD_FIELDS, AuditEntry, AuditRecord
from logomesh.audit.query import AuditFilter, apply_filter
from logomesh.canonical import (
    GENESIS_HASH,
    canonical_json,
    format_timestamp,
    sha256_hex,
)
from logomesh.security.redaction import redact, redact_text
from logomesh.storage.database import Database
from logomesh.storage.tables import audit_payloads, audit_records


@dataclass(frozen=True)
class _Prepared:
    """An entry with secrets redacted and payloads hashed, ready to be chained.

    ``fields`` holds arguments and details as canonical JSON text (what is hashed and
    stored); ``arguments`` and ``details`` keep the values for the returned record.
    """

    fields: dict[str, Any]
    timestamp: str | None
    payloads: dict[str, bytes]
    arguments: dict[str, Any]
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


class AuditStore:
    """The audit tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing -----------------------------------------------------------------------

    def append(self, entry: AuditEntry) -> AuditRecord:
        return self.append_many([entry])[0]

    def append_many(
        self, entries: Sequence[AuditEntry], *, skip_stored: bool = False
    ) -> list[AuditRecord]:
        """Chain and store entries in one transaction; all are stored or none.

        ``skip_stored`` leaves out entries whose id is already in the table (or earlier in
        ``entries``), checked under the same lock: a spool drain that crashed after its
        commit and before its truncate offers the same records again."""
        prepared = [_prepare(entry) for entry in entries]
        if not prepared:
            return []
        # The driver's own cursor: this runs for every batch of the audit writer, and
        # SQLAlchemy's transaction handling would cost more than the SQL (Database).
        with self.db.driver_write() as cursor:
            if skip_stored:
                prepared = _not_stored(self.db, cursor, prepared)
                if not prepared:
                    return []
            head = _read_head_raw(cursor)
            now = format_timestamp(datetime.now(UTC))
            records: list[AuditRecord] = []
            rows: list[dict[str, Any]] = []
            seq, prev = head.seq, head.hash
            for item in prepared:
                seq += 1
                row = {**item.fields, "seq": seq, "timestamp": item.timestamp or now}
                row["prev_hash"] = prev
                row["hash"] = prev = record_hash(row)
                rows.append(row)
                records.append(
                    AuditRecord(**{**row, "arguments": item.arguments, "details": item.details})
                )
            _store_payloads(self.db, cursor, prepared, now)
            self.db.insert_driver_rows(cursor, audit_records, rows)
        return records

    def prune_payloads(self, older_than: datetime) -> int:
        """Drop payloads that no record newer than ``older_than`` refers to."""
        cutoff = format_timestamp(older_than)
        recent = union(
            *(
                select(audit_records.c[name]).where(
                    audit_records.c.timestamp >= cutoff, audit_records.c[name].is_not(None)
                )
                for name in PAYLOAD_FIELDS
            )
        )
        with self.db.write() as conn:
            result = conn.execute(
                delete(audit_payloads).where(
                    audit_payloads.c.created_at < cutoff,
                    audit_payloads.c.hash.not_in(recent.scalar_subquery()),
                )
            )
        return int(result.rowcount or 0)

    # -- reading -----------------------------------------------------------------------

    def head(self) -> ChainHead:
        with self.db.read() as conn:
            return _read_head(conn)

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_records)).scalar_one())

    def query(self, where: AuditFilter) -> list[AuditRecord]:
        """Records matching ``where``, newest first (or oldest first if it says so)."""
        statement = apply_filter(select(audit_records), where)
        with self.db.read() as conn:
            return [_from_row(row) for row in conn.execute(statement).mappings()]

    def iter_all(self, batch_size: int = 5000) -> Iterator[list[AuditRecord]]:
        """Every record in chain order, in batches, without holding all in memory."""
        after = 0
        while True:
            statement = (
                select(audit_records)
                .where(audit_records.c.seq > after)
                .order_by(audit_records.c.seq)
                .limit(batch_size)
            )
            with self.db.read() as conn:
                batch = [_from_row(row) for row in conn.execute(statement).mappings()]
            if not batch:
                return
            yield batch
            after = batch[-1].seq

    def record_at(self, seq: int) -> AuditRecord | None:
        with self.db.read() as conn:
            row = (
                conn.execute(select(audit_records).where(audit_records.c.seq == seq))
                .mappings()
                .first()
            )
        return _from_row(row) if row else None

    def records(self, seqs: Sequence[int]) -> list[AuditRecord]:
        """The records with these seqs (a few hundred at most), in the order given."""
        if not seqs:
            return []
        statement = select(audit_records).where(audit_records.c.seq.in_(list(seqs)))
        with self.db.read() as conn:
            found = {row["seq"]: _from_row(row) for row in conn.execute(statement).mappings()}
        return [found[seq] for seq in seqs if seq in found]

    def payloads(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """The stored payloads among ``hashes`` (pruned ones are simply absent)."""
        found: dict[str, bytes] = {}
        with self.db.read() as conn:
            for start in range(0, len(hashes), 500):
                chunk = list(hashes[start : start + 500])
                statement = select(audit_payloads.c.hash, audit_payloads.c.content).where(
                    audit_payloads.c.hash.in_(chunk)
                )
                found.update({h: bytes(c) for h, c in conn.execute(statement)})
        return found


def _prepare(entry: AuditEntry) -> _Prepared:
    arguments = redact(dict(entry.arguments))
    details = redact(dict(entry.details))
    payloads: dict[str, bytes] = {}
    hashes: dict[str, str | None] = {}
    for name, text in (
        ("prompt_hash", entry.prompt),
        ("response_hash", entry.response),
        ("output_hash", entry.output),
    ):
        if text is None:
            hashes[name] = None
            continue
        data = redact_text(text).encode("utf-8")
        hashes[name] = digest = sha256_hex(data)
        payloads[digest] = data
    fields = {
        "id": entry.id,
        "actor": entry.actor,
        "source": str(entry.source),
        "action": entry.action,
        "target": redact_text(entry.target) if entry.target is not None else None,
        "arguments": canonical_json(arguments),
        "outcome": str(entry.outcome),
        "error": redact_text(entry.error) if entry.error is not None else None,
        "duration_us": round(entry.duration_ms * 1000),
        "correlation_id": entry.correlation_id,
        "parent_id": entry.parent_id,
        "details": canonical_json(details),
        "model": entry.model,
        "tokens_in": entry.tokens_in,
        "tokens_out": entry.tokens_out,
        **hashes,
    }
    stamp = format_timestamp(entry.timestamp) if entry.timestamp else None
    return _Prepared(fields, stamp, payloads, arguments, details)


# The same text for both connections: SQLAlchemy's (reads) and the driver's (appends).
_READ_HEAD_SQL = "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"


def _read_head(conn: Connection) -> ChainHead:
    row = conn.exec_driver_sql(_READ_HEAD_SQL).first()
    return ChainHead(row[0], row[1]) if row else ChainHead(0, GENESIS_HASH)


def _read_head_raw(cursor: Any) -> ChainHead:
    cursor.execute(_READ_HEAD_SQL)
    row = cursor.fetchone()
    return ChainHead(row[0], row[1]) if row else ChainHead(0, GENESIS_HASH)


def _not_stored(db: Database, cursor: Any, prepared: list[_Prepared]) -> list[_Prepared]:
    mark = "?" if db.dialect == "sqlite" else "%s"
    ids = list(dict.fromkeys(item.fields["id"] for item in prepared))
    stored: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join([mark] * len(chunk))  # placeholders only: the ids are bound
        cursor.execute(f"SELECT id FROM audit_records WHERE id IN ({marks})", chunk)  # noqa: S608
        stored.update(row[0] for row in cursor.fetchall())
    fresh: list[_Prepared] = []
    for item in prepared:
        if item.fields["id"] not in stored:
            stored.add(item.fields["id"])  # a duplicate later in the batch is skipped too
            fresh.append(item)
    return fresh


def _store_payloads(db: Database, cursor: Any, prepared: list[_Prepared], now: str) -> None:
    wanted = {digest: data for item in prepared for digest, data in item.payloads.items()}
    rows = [
        {"hash": digest, "created_at": now, "size": len(data), "content": data}
        for digest, data in wanted.items()
    ]
    # Payloads are addressed by their hash: one already stored is the same text.
    db.insert_driver_rows(cursor, audit_payloads, rows, skip_existing="hash")


def _from_row(row: RowMapping) -> AuditRecord:
    values = dict(row)
    values["arguments"] = json.loads(values["arguments"])
    values["details"] = json.loads(values["details"])
    return AuditRecord(**values)
