"""The embedding table on PostgreSQL: a pgvector column with an HNSW index, or bytea.

A team's server may not have pgvector, and ``CREATE EXTENSION vector`` needs a superuser
(the extension is not marked trusted), which LogoMesh's own role usually is not. So
migration 0005 *tries* to install it, in a savepoint, and makes one of two tables:

- ``embedding vector(384)`` with ``USING hnsw (embedding vector_cosine_ops)``: vectors
  are unit length, so cosine distance orders them as the in-memory index's dot product
  does, and ``audit search`` ranks in SQL (:mod:`logomesh.audit.semantic.hnsw`);
- ``embedding bytea`` holding the same 384 little-endian float32 values as SQLite's BLOB
  table, so the in-memory index serves unchanged, and the search says it is the fallback.

A migration runs once, so an extension an admin installs later is picked up by the next
search, which moves the stored vectors into a pgvector table (no record is embedded again):
see :mod:`logomesh.storage.pgvector_upgrade`.

pgvector older than 0.8.0 counts as absent: filtered HNSW search needs its iterative scans
(``hnsw.iterative_scan``), without which "alice's records" could come back nearly empty.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import DBAPIError

from logomesh.storage.tables import EMBEDDING_DIMENSIONS

MINIMUM_VERSION = (0, 8, 0)
HNSW_INDEX = "ix_audit_embeddings_hnsw"


class EmbeddingColumn(StrEnum):
    """What the ``embedding`` column of ``audit_embeddings`` is on this database."""

    PGVECTOR = "pgvector"  # ranked in SQL through the HNSW index
    BYTES = "bytes"  # float32 bytes (bytea; SQLite's too), ranked by the in-memory index
    MISSING = "missing"  # no table: migration 0005 has not run


@dataclass(frozen=True, slots=True)
class VectorExtension:
    """Whether pgvector is usable here, and its version (None: not installed)."""

    version: str | None
    # The schema it was installed in; usable only when that is on the role's search_path.
    schema: str | None = None
    on_search_path: bool = True

    @property
    def usable(self) -> bool:
        return (
            self.version is not None
            and self.on_search_path
            and _version_tuple(self.version) >= MINIMUM_VERSION
        )


def table_statements(column: EmbeddingColumn) -> tuple[str, ...]:
    """DDL for the embedding table (and its HNSW index when the column is a vector)."""
    table = create_table(column)
    return (table, hnsw_index()) if column is EmbeddingColumn.PGVECTOR else (table,)


def create_table(column: EmbeddingColumn, name: str = "audit_embeddings") -> str:
    kind = f"vector({EMBEDDING_DIMENSIONS})" if column is EmbeddingColumn.PGVECTOR else "bytea"
    return (
        f"CREATE TABLE {name} (record_seq BIGINT PRIMARY KEY REFERENCES audit_records (seq), "
        f"embedding {kind} NOT NULL)"
    )


def hnsw_index(table: str = "audit_embeddings") -> str:
    # Cosine distance: vectors are unit length, so it orders them as their dot product does.
    return f"CREATE INDEX {HNSW_INDEX} ON {table} USING hnsw (embedding vector_cosine_ops)"


def install_extension(conn: Connection) -> VectorExtension:
    """Try ``CREATE EXTENSION IF NOT EXISTS vector``; what is there afterwards.

    In a savepoint: without the right (or without the extension on the server) the error
    aborts only the savepoint, and the migration's transaction goes on.
    """
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    except DBAPIError:
        pass  # reported by the search that falls back, with what to do about it
    return extension(conn)


def extension(conn: Connection) -> VectorExtension:
    """pgvector as this connection sees it: installed, in which schema, and whether its
    type resolves on this role's search_path (the SQL here names it unqualified)."""
    row = conn.execute(
        text(
            "SELECT e.extversion, n.nspname, to_regtype('vector') IS NOT NULL "
            "FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector'"
        )
    ).first()
    if row is None:
        return VectorExtension(None)
    return VectorExtension(str(row[0]), str(row[1]), bool(row[2]))


def embedding_column(conn: Connection) -> EmbeddingColumn:
    """Which table migration 0005 (or a conversion since) left."""
    kind = conn.execute(
        text(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
            "WHERE a.attrelid = to_regclass('audit_embeddings') AND a.attname = 'embedding' "
            "AND NOT a.attisdropped"
        )
    ).scalar()
    if kind is None:
        return EmbeddingColumn.MISSING
    return EmbeddingColumn.BYTES if kind == "bytea" else EmbeddingColumn.PGVECTOR


def vector_text(data: bytes) -> str:
    """pgvector's text form ``[x,y,...]`` of 384 little-endian float32 values.

    ``repr`` of each value (a float64 holding a float32 exactly) reads back as the same
    float32, so a vector survives the round trip bit for bit.
    """
    values = array("f", data)
    if sys.byteorder == "big":  # pragma: no cover - stored little-endian, read natively
        values.byteswap()
    return "[" + ",".join(map(repr, values)) + "]"


def server_name(conn: Connection) -> str:
    """``database on host`` for messages, from the URL (never with its password)."""
    url = make_url(conn.engine.url)
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    return f"database {url.database or '(default)'} on {host}"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
