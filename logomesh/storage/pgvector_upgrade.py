"""Moving a bytea embedding table into pgvector once an admin installs the extension.

Migration 0005 made a bytea table because pgvector was missing; a migration does not run
twice, so the next search after ``CREATE EXTENSION vector`` does the move instead, and no
record is embedded again: every stored vector is copied bit for bit.

The move is in two steps so that the audit trail's write lock is held only briefly. Copying
and building an HNSW index take about a millisecond a vector (measured here on two cores:
5,000 vectors, 4.7 s), and every command of every LogoMesh process waits for that lock to
write its audit record.

1. :func:`build_copy`, *without* the write lock: ``audit_embeddings_new`` (a vector
   column) gets every vector stored so far, then its HNSW index, in one transaction. A
   transaction-scoped advisory lock of its own keeps a second process from building a
   second copy; a crash leaves nothing behind (the transaction rolls back).
2. :func:`swap_in_copy`, inside :meth:`Database.write`: what the worker stored meanwhile
   is copied too, whatever the old table no longer has is dropped from the copy, then the
   old table goes and the copy takes its name and its constraints' names.

If the embedding model changed between the steps (every vector is dropped and embedded
again, see migration 0003), the copy holds the old model's vectors: step 2 notices from the
model recorded on the copy's table comment and starts the copy afresh, under the lock.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from logomesh.storage import pgvector_table
from logomesh.storage.pgvector_table import EmbeddingColumn

_NEW = "audit_embeddings_new"
_COPY_PAGE = 2000
# Any 64-bit constant works, as long as every LogoMesh process uses the same one.
BUILD_LOCK_KEY = 0x4C4D505356454354


def build_copy(conn: Connection) -> bool:
    """Step 1, in ``conn``'s own transaction, without the audit write lock.

    True when the copy is ready for :func:`swap_in_copy` (built now, or left by an earlier
    attempt); False when there is nothing to do or another process is building it.
    """
    if not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": BUILD_LOCK_KEY}
    ).scalar():
        return False
    if not _needs_move(conn):
        return False
    if _has_copy(conn):
        return True
    conn.exec_driver_sql(pgvector_table.create_table(EmbeddingColumn.PGVECTOR, _NEW))
    model = conn.exec_driver_sql(
        "SELECT model FROM vector_models WHERE vector_table = 'audit_embeddings'"
    ).scalar()
    # COMMENT takes no parameters; the model name is quoted by PostgreSQL's own function.
    quoted = conn.execute(text("SELECT quote_literal(:m)"), {"m": model or ""}).scalar_one()
    conn.exec_driver_sql(f"COMMENT ON TABLE {_NEW} IS {quoted}")
    _copy_missing(conn)
    # After the copy: one bulk build of the graph instead of an insert into it per vector.
    conn.exec_driver_sql(pgvector_table.hnsw_index(_NEW))
    return True


def swap_in_copy(conn: Connection) -> int | None:
    """Step 2, inside :meth:`Database.write`: make the copy ``audit_embeddings``.

    Returns how many vectors the pgvector table holds, or None when there was nothing to
    swap (another process did it first, or there is no copy).
    """
    if not _needs_move(conn) or not _has_copy(conn):
        return None
    model = conn.exec_driver_sql(
        "SELECT model FROM vector_models WHERE vector_table = 'audit_embeddings'"
    ).scalar()
    copied_model = conn.execute(
        text("SELECT obj_description(to_regclass(:t), 'pg_class')"), {"t": _NEW}
    ).scalar()
    if (copied_model or "") != (model or ""):
        conn.exec_driver_sql(f"TRUNCATE {_NEW}")
    conn.exec_driver_sql(
        "DELETE FROM audit_embeddings_new AS n WHERE NOT EXISTS "
        "(SELECT 1 FROM audit_embeddings AS e WHERE e.record_seq = n.record_seq)"
    )
    _copy_missing(conn)
    conn.exec_driver_sql("DROP TABLE audit_embeddings")
    conn.exec_driver_sql(f"ALTER TABLE {_NEW} RENAME TO audit_embeddings")
    conn.exec_driver_sql("COMMENT ON TABLE audit_embeddings IS NULL")
    for constraint in ("pkey", "record_seq_fkey"):  # the names a CREATE would have given
        conn.exec_driver_sql(
            f"ALTER TABLE audit_embeddings RENAME CONSTRAINT {_NEW}_{constraint} "
            f"TO audit_embeddings_{constraint}"
        )
    return int(conn.exec_driver_sql("SELECT count(*) FROM audit_embeddings").scalar_one())


def _needs_move(conn: Connection) -> bool:
    return (
        pgvector_table.embedding_column(conn) is EmbeddingColumn.BYTES
        and pgvector_table.extension(conn).usable
    )


def _has_copy(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": _NEW}).scalar())


def _copy_missing(conn: Connection) -> None:
    """Copy the bytea table's vectors the copy lacks, in pages of seqs."""
    after = -1
    while True:
        rows = conn.exec_driver_sql(
            "SELECT e.record_seq, e.embedding FROM audit_embeddings AS e "
            "WHERE e.record_seq > %s AND NOT EXISTS (SELECT 1 FROM audit_embeddings_new AS n "
            "WHERE n.record_seq = e.record_seq) ORDER BY e.record_seq LIMIT %s",
            (after, _COPY_PAGE),
        ).fetchall()
        if not rows:
            return
        conn.exec_driver_sql(
            "INSERT INTO audit_embeddings_new (record_seq, embedding) VALUES (%s, %s::vector)",
            [(seq, pgvector_table.vector_text(bytes(data))) for seq, data in rows],
        )
        after = rows[-1][0]
