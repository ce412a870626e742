"""Fill a PostgreSQL trail with many synthetic records and unit vectors, quickly.

For tests that need "enough rows" for the planner to choose the HNSW index, and for the
search benchmark at 100,000 and 1,000,000 records. Records go through the audit store
(a real hash chain, so ``audit verify`` passes); vectors go in by binary ``COPY``, built
by NumPy without a Python loop per row, and the HNSW index is dropped first and built once
at the end (one bulk build is much faster than a graph insert per row).

Vectors are a pure function of (seed, chunk), so a test can compute the exact answer
with :func:`synthetic_vectors` instead of keeping a copy.

Where the time goes (measured on this two-core machine while other tests ran): appending
5,000 records takes about 0.9 s and the COPY of their vectors well under that, but building
the HNSW index takes about 1 ms a vector (5,000 in 4.7 s; 20,000 records filled in 29 s
all told). At 1,000,000 the index build dominates: give it ``maintenance_work_mem`` big
enough for the graph (about 2 GB at 1M x 384; past it the build slows down sharply) and
fill a database once and reuse it rather than once per run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from logomesh.audit.models import AuditEntry
from logomesh.canonical import format_timestamp
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.storage import pgvector_table, vectors
from logomesh.storage.tables import EMBEDDING_DIMENSIONS

ACTORS = ("alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi")
ACTIONS = ("status", "deploy.web", "db.backup", "audit.query", "config.show", "whoami")
SOURCES = (Source.CLI, Source.SLACK, Source.LSP, Source.PIPELINE)
CHUNK = 5000

# One COPY BINARY row: 2 fields; an int8 seq; a vector (int16 dim, int16 unused, float4s).
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("seq_len", ">i4"),
        ("seq", ">i8"),
        ("vector_len", ">i4"),
        ("dim", ">i2"),
        ("unused", ">i2"),
        ("vector", ">f4", (EMBEDDING_DIMENSIONS,)),
    ]
)
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_TRAILER = b"\xff\xff"


def synthetic_entry(number: int) -> AuditEntry:
    """Record ``number`` (0-based): actors, actions and sources cycle at coprime periods."""
    return AuditEntry(
        actor=ACTORS[number % len(ACTORS)],
        source=SOURCES[number % len(SOURCES)],
        action=ACTIONS[number % len(ACTIONS)],
        outcome=Outcome.ERROR if number % 17 == 0 else Outcome.OK,
        arguments={"n": number},
    )


def synthetic_vectors(seed: int, count: int) -> npt.NDArray[np.float32]:
    """The unit vectors :func:`fill_trail` stores for its first ``count`` records."""
    return np.concatenate(
        [_chunk_vectors(seed, i, min(CHUNK, count - start)) for i, start in _chunks(count)]
    )


def fill_trail(
    engine: Engine,
    count: int,
    *,
    seed: int = 0,
    model: str | None = None,
    maintenance_work_mem: str = "1GB",
) -> None:
    """Append ``count`` synthetic records to an empty PostgreSQL trail and store a unit
    vector for each, tagged as ``model``'s (the engine's embedder's by default, so its
    worker keeps them rather than embedding everything again)."""
    with engine.database.write() as conn:
        if pgvector_table.embedding_column(conn) is not pgvector_table.EmbeddingColumn.PGVECTOR:
            raise RuntimeError("fill_trail needs the pgvector table (migration 0005 with pgvector)")
    for _, start in _chunks(count):
        engine.audit.store.append_many(
            [synthetic_entry(n) for n in range(start, min(start + CHUNK, count))]
        )
    with engine.database.write() as conn:
        vectors.adopt_model(
            conn, model or engine.embedder.identity, format_timestamp(datetime.now(UTC))
        )
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {pgvector_table.HNSW_INDEX}")
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            copy_sql = "COPY audit_embeddings (record_seq, embedding) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(copy_sql) as copy:
                copy.write(_HEADER)
                for i, start in _chunks(count):
                    size = min(CHUNK, count - start)
                    copy.write(_copy_rows(start + 1, _chunk_vectors(seed, i, size)))
                copy.write(_TRAILER)
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
        conn.exec_driver_sql(pgvector_table.hnsw_index())
        conn.exec_driver_sql("ANALYZE audit_embeddings")
        conn.exec_driver_sql("ANALYZE audit_records")


def _chunks(count: int) -> list[tuple[int, int]]:
    return list(enumerate(range(0, count, CHUNK)))


def _chunk_vectors(seed: int, chunk: int, size: int) -> npt.NDArray[np.float32]:
    raw = np.random.default_rng((seed, chunk)).standard_normal((size, EMBEDDING_DIMENSIONS))
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


def _copy_rows(first_seq: int, block: npt.NDArray[np.float32]) -> bytes:
    rows = np.zeros(len(block), dtype=_ROW)
    rows["fields"] = 2
    rows["seq_len"] = 8
    rows["seq"] = np.arange(first_seq, first_seq + len(block))
    rows["vector_len"] = 4 + 4 * EMBEDDING_DIMENSIONS
    rows["dim"] = EMBEDDING_DIMENSIONS
    rows["vector"] = block
    return rows.tobytes()
