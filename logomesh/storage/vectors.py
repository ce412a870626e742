"""The SQL of the embedding table: which records lack a vector, writing vectors, reading them.

``audit_embeddings`` (migration 0001) is a sqlite-vec ``vec0`` virtual table when the
extension loaded at migration time, else a plain table with a BLOB column. Both take the same
statements, and both hold each vector as 384 little-endian float32 values (1,536 bytes), so
nothing above this module needs to know which one it got.

Every statement here drives from ``audit_records`` (an integer-primary-key range, cheap) and
probes the embedding table by key, one record at a time. That shape is deliberate: ``vec0``
answers a point lookup by key in about 10 µs, but a range, ``max``, ``count``, ``IN`` or join
*driven from* the vec0 side is a full scan of every chunk (measured on 100,000 vectors:
about 40 ms for ``max(record_seq)``, 0.8 s for a ``LEFT JOIN`` that SQLite plans vec0-first).

Only SQLite has the table for now; PostgreSQL gets pgvector in its own migration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from logomesh.errors import StorageError
from logomesh.storage.tables import EMBEDDING_DIMENSIONS

VECTOR_BYTES = EMBEDDING_DIMENSIONS * 4  # float32

_UNEMBEDDED = (
    "SELECT r.seq, r.actor, r.source, r.action, r.target, r.arguments, r.outcome, r.error "
    "FROM audit_records AS r WHERE r.seq > ? AND NOT EXISTS "
    "(SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = r.seq) "
    "ORDER BY r.seq LIMIT ?"
)
# The seqs come as one JSON array parameter, however many there are.
_ALREADY_EMBEDDED = (
    "SELECT r.seq FROM audit_records AS r WHERE r.seq IN (SELECT value FROM json_each(?)) "
    "AND EXISTS (SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = r.seq)"
)
_INSERT = "INSERT INTO audit_embeddings (record_seq, embedding) VALUES (?, ?)"
# Records after a point, each with its vector or NULL: the index loads the embedded prefix.
_RECORDS_WITH_VECTORS = (
    "SELECT r.seq, r.timestamp, r.actor, r.source, r.action, r.outcome, "
    "(SELECT e.embedding FROM audit_embeddings AS e WHERE e.record_seq = r.seq) "
    "FROM audit_records AS r WHERE r.seq > ? ORDER BY r.seq LIMIT ?"
)
_MODEL_OF = "SELECT model FROM vector_models WHERE vector_table = 'audit_embeddings'"
_HASH_AT = "SELECT hash FROM audit_records WHERE seq = ?"
_LAST_SEQ = "SELECT max(seq) FROM audit_records"


@dataclass(frozen=True, slots=True)
class UnembeddedRecord:
    """The fields of a record that its text for embedding is made of."""

    seq: int
    actor: str
    source: str
    action: str
    target: str | None
    arguments: str  # canonical JSON text, as stored
    outcome: str
    error: str | None


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A record's filterable fields and its vector bytes (None: not embedded yet)."""

    seq: int
    timestamp: str
    actor: str
    source: str
    action: str
    outcome: str
    embedding: bytes | None


@dataclass(frozen=True, slots=True)
class ChainMark:
    """A record's place and hash: caches check it to notice the database was replaced."""

    seq: int
    hash: str | None


def require_vectors(conn: Connection) -> None:
    """Raise a StorageError that says so when this database has no embedding table."""
    if conn.dialect.name != "sqlite":
        raise StorageError(
            f"Semantic audit search needs the SQLite embedding table; the {conn.dialect.name} "
            "database has none yet. Use `audit query` filters instead."
        )


def unembedded(conn: Connection, after: int, limit: int) -> list[UnembeddedRecord]:
    """Up to ``limit`` records after seq ``after`` that have no vector, oldest first."""
    rows = conn.exec_driver_sql(_UNEMBEDDED, (after, limit)).fetchall()
    return [UnembeddedRecord(*row) for row in rows]


def write_vectors(conn: Connection, vectors: Sequence[tuple[int, bytes]]) -> int:
    """Insert (seq, float32 bytes) pairs, skipping records another process embedded first.

    Call inside :meth:`Database.write`: the write lock makes check-then-insert race-free
    (vec0 has no ``INSERT OR IGNORE``). Returns how many were inserted.
    """
    if not vectors:
        return 0
    for seq, data in vectors:
        if len(data) != VECTOR_BYTES:
            raise ValueError(f"record #{seq}: a vector has {VECTOR_BYTES} bytes, not {len(data)}")
    seqs = json.dumps([seq for seq, _ in vectors])
    present = {row[0] for row in conn.exec_driver_sql(_ALREADY_EMBEDDED, (seqs,)).fetchall()}
    fresh = [(seq, data) for seq, data in vectors if seq not in present]
    if fresh:
        conn.exec_driver_sql(_INSERT, fresh)
    return len(fresh)


def embedded_through(conn: Connection) -> int:
    """The highest seq up to which every record has a vector, if the vectors have no holes.

    Records are numbered 1, 2, 3... and never deleted, so vectors without holes are exactly
    ``count == max``. With holes this answers 0 and the caller scans from the start once.
    """
    top, count = conn.exec_driver_sql(
        "SELECT max(record_seq), count(*) FROM audit_embeddings"
    ).one()
    if not top:
        return 0
    records = conn.exec_driver_sql(
        "SELECT count(*) FROM audit_records WHERE seq <= ?", (top,)
    ).scalar_one()
    return int(top) if records == count else 0


def records_with_vectors(conn: Connection, after: int, limit: int) -> list[IndexRow]:
    """Up to ``limit`` records after ``after`` in seq order, each with its vector or None."""
    rows = conn.exec_driver_sql(_RECORDS_WITH_VECTORS, (after, limit)).fetchall()
    return [IndexRow(*row) for row in rows]


def last_seq(conn: Connection) -> int:
    """The seq of the newest record (0 for an empty trail)."""
    return int(conn.exec_driver_sql(_LAST_SEQ).scalar() or 0)


def chain_mark(conn: Connection, seq: int) -> ChainMark:
    """The hash of record ``seq`` now (None when there is no such record)."""
    if seq == 0:
        return ChainMark(0, None)
    return ChainMark(seq, conn.exec_driver_sql(_HASH_AT, (seq,)).scalar())


def vector_model(conn: Connection) -> str | None:
    """The model that made every vector in ``audit_embeddings`` (None: not recorded)."""
    value = conn.exec_driver_sql(_MODEL_OF).scalar()
    return None if value is None else str(value)


def has_vectors(conn: Connection) -> bool:
    return conn.exec_driver_sql("SELECT 1 FROM audit_embeddings LIMIT 1").first() is not None


def adopt_model(conn: Connection, model: str, now: str) -> bool:
    """Make ``model`` the one whose vectors the table holds; inside :meth:`Database.write`.

    Vectors of another model, or of an unrecorded one (stored before migration 0003), are
    deleted, so they are embedded again by this model: a search never compares vectors of
    two models. Returns True when vectors were dropped.
    """
    current = vector_model(conn)
    if current == model:
        return False
    dropped = has_vectors(conn)
    if dropped:
        conn.exec_driver_sql("DELETE FROM audit_embeddings")
    conn.exec_driver_sql("DELETE FROM vector_models WHERE vector_table = 'audit_embeddings'")
    conn.exec_driver_sql(
        "INSERT INTO vector_models (vector_table, model, dimensions, since) "
        "VALUES ('audit_embeddings', ?, ?, ?)",
        (model, EMBEDDING_DIMENSIONS, now),
    )
    return dropped
