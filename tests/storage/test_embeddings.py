"""The embedding column: a sqlite-vec vec0 table keyed by record, outside the hashed content."""

from __future__ import annotations

import struct

from sqlalchemy import text

from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.storage.tables import EMBEDDING_DIMENSIONS


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
