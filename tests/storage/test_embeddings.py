"""The embedding column, keyed by record, outside the hashed content: a sqlite-vec vec0
table on SQLite, a pgvector column with an HNSW index on PostgreSQL (migration 0005)."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from sqlalchemy import make_url, text

from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import StorageError
from logomesh.storage import pgvector_table, vectors
from logomesh.storage.pgvector_table import EmbeddingColumn
from logomesh.storage.tables import EMBEDDING_DIMENSIONS
from tests.postgres import PgServer


def _vector(value: float) -> bytes:
    return struct.pack(f"{EMBEDDING_DIMENSIONS}f", *([value] * EMBEDDING_DIMENSIONS))


def test_embeddings_are_a_vec0_table_that_answers_knn(engine: Engine) -> None:
    """sqlite-vec is loaded, the table takes 384-dim float32 vectors and finds neighbours."""
    records = engine.audit.record_many(
        [
            AuditEntry(actor="a", source=Source.CLI, action=f"act{i}", outcome=Outcome.OK)
            for i in range(3)
        ]
    )
    with engine.database.write() as conn:
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'audit_embeddings'")
        ).scalar_one()
        assert "vec0" in sql and f"float[{EMBEDDING_DIMENSIONS}]" in sql
        for value, record in zip((0.1, 0.5, 0.9), records, strict=True):
            conn.execute(
                text("INSERT INTO audit_embeddings (record_seq, embedding) VALUES (:s, :e)"),
                {"s": record.seq, "e": _vector(value)},
            )
    with engine.database.read() as conn:
        nearest = conn.execute(
            text(
                "SELECT record_seq FROM audit_embeddings WHERE embedding MATCH :q "
                "ORDER BY distance LIMIT 1"
            ),
            {"q": _vector(0.85)},
        ).scalar_one()
    assert nearest == records[2].seq


def test_filling_embeddings_leaves_the_chain_valid(engine: Engine) -> None:
    """Embeddings are written after the record and are not hashed: verify stays green."""
    record = engine.audit.record(
        AuditEntry(actor="a", source=Source.CLI, action="x", outcome=Outcome.OK)
    )
    with engine.database.write() as conn:
        conn.execute(
            text("INSERT INTO audit_embeddings (record_seq, embedding) VALUES (:s, :e)"),
            {"s": record.seq, "e": _vector(0.3)},
        )
    assert engine.audit.verify().ok


# -- PostgreSQL (migration 0005) -----------------------------------------------------------


@pytest.fixture
def pg_engine(make_engine: Callable[..., Engine], pg_url: str) -> Engine:
    engine = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    engine.ensure_schema()
    return engine


def _unit(value: float, axis: int) -> bytes:
    vector = [value] * EMBEDDING_DIMENSIONS
    vector[axis] = 10.0  # mostly along one axis, so the nearest is obvious
    norm = sum(x * x for x in vector) ** 0.5
    return struct.pack(f"<{EMBEDDING_DIMENSIONS}f", *(x / norm for x in vector))


def test_postgresql_embeddings_are_a_pgvector_column_with_an_hnsw_index(
    pg_engine: Engine, pg_server: PgServer, pg_database: str
) -> None:
    """Migration 0005 installs pgvector (the test role is a superuser) and makes the table
    a vector(384) column with an HNSW cosine index; vectors written through vectors.py
    round-trip exactly and the nearest one is found with ``<=>``."""
    [(kind,)] = pg_server.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'audit_embeddings'::regclass AND attname = 'embedding'",
        pg_database,
    )
    assert kind == f"vector({EMBEDDING_DIMENSIONS})"
    [(definition,)] = pg_server.execute(
        f"SELECT indexdef FROM pg_indexes WHERE indexname = '{pgvector_table.HNSW_INDEX}'",
        pg_database,
    )
    assert "USING hnsw (embedding vector_cosine_ops)" in definition
    records = pg_engine.audit.record_many(
        [AuditEntry(actor="a", source=Source.CLI, action=f"act{i}", outcome=Outcome.OK)
         for i in range(3)]
    )  # fmt: skip
    stored = {record.seq: _unit(0.01, axis) for axis, record in enumerate(records)}
    with pg_engine.database.write() as conn:
        assert vectors.write_vectors(conn, list(stored.items())) == 3
        assert vectors.write_vectors(conn, list(stored.items())) == 0  # already there
        back = conn.execute(
            text("SELECT vector_send(embedding) FROM audit_embeddings WHERE record_seq = :s"),
            {"s": records[1].seq},
        ).scalar_one()
        nearest = conn.execute(
            text(
                "SELECT record_seq FROM audit_embeddings "
                "ORDER BY embedding <=> CAST(:q AS vector) LIMIT 1"
            ),
            {"q": pgvector_table.vector_text(_unit(0.02, 2))},
        ).scalar_one()
    # vector_send: int16 dimensions, int16 unused, then big-endian float4 values.
    assert struct.unpack(f">{EMBEDDING_DIMENSIONS}f", back[4:]) == struct.unpack(
        f"<{EMBEDDING_DIMENSIONS}f", stored[records[1].seq]
    )
    assert nearest == records[2].seq
    assert pg_engine.audit.verify().ok


def test_migration_0005_downgrade_drops_the_table_and_upgrade_makes_it_again(
    pg_engine: Engine,
) -> None:
    migrator = pg_engine.migrator
    migrator.downgrade("0004_pipeline_runs")
    with pg_engine.database.read() as conn:
        assert pgvector_table.embedding_column(conn) is EmbeddingColumn.MISSING
        assert pgvector_table.extension(conn).usable  # left for others who may use it
    migrator.upgrade()
    with pg_engine.database.read() as conn:
        assert pgvector_table.embedding_column(conn) is EmbeddingColumn.PGVECTOR


def test_migration_0005_is_a_no_op_on_sqlite(engine: Engine) -> None:
    """SQLite's table is migration 0001's vec0 table, untouched by 0005 either way."""
    engine.ensure_schema()
    engine.migrator.downgrade("0004_pipeline_runs")
    with engine.database.read() as conn:
        assert (
            "vec0"
            in conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'audit_embeddings'")
            ).scalar_one()
        )


def test_a_postgresql_schema_before_0005_says_to_upgrade(
    make_engine: Callable[..., Engine], pg_url: str
) -> None:
    """A database another (older) LogoMesh migrated, with auto-migration off here: the
    search's error names the command that fixes it, and the server, not the password."""
    engine = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    engine.migrator.upgrade("0004_pipeline_runs")
    with engine.database.read() as conn, pytest.raises(StorageError) as caught:
        vectors.require_vectors(conn)
    message = caught.value.user_message
    assert "`logomesh db upgrade`" in message and "has no" in message
    assert make_url(pg_url).database in message  # type: ignore[operator]
