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

On PostgreSQL (migration 0005, :mod:`logomesh.storage.pgvector_table`) the same statements
run in psycopg's ``%s`` paramstyle, a list of seqs is one array parameter (``= ANY(%s)``)
instead of SQLite's ``json_each``, and a pgvector column takes each vector in its text form
(``'[..]'::vector``). Its bytea table takes the same bytes as SQLite's BLOB table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.util.typing import TupleAny

from logomesh.errors import StorageError
from logomesh.storage import pgvector_table
from logomesh.storage.pgvector_table import EmbeddingColumn
from logomesh.storage.tables import EMBEDDING_DIMENSIONS

VECTOR_BYTES = EMBEDDING_DIMENSIONS * 4  # float32

_UNEMBEDDED = (
    "SELECT r.seq, r.actor, r.source, r.action, r.target, r.arguments, r.outcome, r.error "
    "FROM audit_records AS r WHERE r.seq > ? AND NOT EXISTS "
    "(SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = r.seq) "
    "ORDER BY r.seq LIMIT ?"
)
# The seqs come as one parameter, however many there are: a JSON text, or an array.
_ALREADY_EMBEDDED = (
    "SELECT r.seq FROM audit_records AS r WHERE r.seq IN (SELECT value FROM json_each(?)) "
    "AND EXISTS (SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = r.seq)"
)
_ALREADY_EMBEDDED_PG = (
    "SELECT r.seq FROM audit_records AS r WHERE r.seq = ANY(%s) "
    "AND EXISTS (SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = r.seq)"
)
_INSERT = "INSERT INTO audit_embeddings (record_seq, embedding) VALUES (?, ?)"
_INSERT_PGVECTOR = "INSERT INTO audit_embeddings (record_seq, embedding) VALUES (%s, %s::vector)"
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


def require_vectors(conn: Connection) -> EmbeddingColumn:
    """What the embedding column is here; a StorageError saying how to fix it when the
    database has no embedding table (a PostgreSQL schema from before migration 0005)."""
    if conn.dialect.name == "sqlite":
        return EmbeddingColumn.BYTES  # migration 0001 made it: vec0 or BLOB
    column = pgvector_table.embedding_column(conn)
    if column is EmbeddingColumn.MISSING:
        raise StorageError(
            f"Semantic audit search needs the embedding table, and the "
            f"{pgvector_table.server_name(conn)} has none: its schema is older than this "
            "LogoMesh. Run `logomesh db upgrade` (or set `database.auto_migrate = true`)."
        )
    return column


def unembedded(conn: Connection, after: int, limit: int) -> list[UnembeddedRecord]:
    """Up to ``limit`` records after seq ``after`` that have no vector, oldest first."""
    rows = _execute(conn, _UNEMBEDDED, (after, limit)).fetchall()
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
    seqs = [seq for seq, _ in vectors]
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(_ALREADY_EMBEDDED, (json.dumps(seqs),))
    else:
        found = conn.exec_driver_sql(_ALREADY_EMBEDDED_PG, (seqs,))
    present = {row[0] for row in found.fetchall()}
    fresh = [(seq, data) for seq, data in vectors if seq not in present]
    if not fresh:
        return 0
    if require_vectors(conn) is EmbeddingColumn.PGVECTOR:
        rows = [(seq, pgvector_table.vector_text(data)) for seq, data in fresh]
        conn.exec_driver_sql(_INSERT_PGVECTOR, rows)
    else:
        _execute(conn, _INSERT, fresh)
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
    records = _execute(
        conn, "SELECT count(*) FROM audit_records WHERE seq <= ?", (top,)
    ).scalar_one()
    return int(top) if records == count else 0


def records_with_vectors(conn: Connection, after: int, limit: int) -> list[IndexRow]:
    """Up to ``limit`` records after ``after`` in seq order, each with its vector or None."""
    rows = _execute(conn, _RECORDS_WITH_VECTORS, (after, limit)).fetchall()
    # psycopg may hand bytea over as a memoryview; the index wants bytes.
    return [
        IndexRow(
            seq, timestamp, actor, source, action, outcome, None if data is None else bytes(data)
        )
        for seq, timestamp, actor, source, action, outcome, data in rows
    ]


def last_seq(conn: Connection) -> int:
    """The seq of the newest record (0 for an empty trail)."""
    return int(conn.exec_driver_sql(_LAST_SEQ).scalar() or 0)


def chain_mark(conn: Connection, seq: int) -> ChainMark:
    """The hash of record ``seq`` now (None when there is no such record)."""
    if seq == 0:
        return ChainMark(0, None)
    return ChainMark(seq, _execute(conn, _HASH_AT, (seq,)).scalar())


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
    _execute(
        conn,
        "INSERT INTO vector_models (vector_table, model, dimensions, since) "
        "VALUES ('audit_embeddings', ?, ?, ?)",
        (model, EMBEDDING_DIMENSIONS, now),
    )
    return dropped


def _execute(conn: Connection, sql: str, parameters: Any) -> CursorResult[*TupleAny]:
    """Run SQL written with SQLite's ``?`` markers in the driver's own paramstyle (psycopg
    takes ``%s``; none of these statements has a ``?`` or ``%`` of its own)."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("?", "%s")
    return conn.exec_driver_sql(sql, parameters)
