"""Audit search by meaning: "who restarted the database" finds the ``db.restore`` record.

One :class:`SemanticSearch` per engine owns the embedding worker and the vector index of
its audit trail. A search first embeds records still waiting (a bounded number, so a record
written a moment ago is found at once, yet a search after a long backlog does not stall),
with the query in the same call of the model, then tops the index up, ranks with the
filters applied, and reads the winning records through :class:`AuditStore`, in score order.

Searches do not find searches: every ``audit.search`` record holds its query text, which
would otherwise outrank the records it was looking for. Ask for ``action="audit.search"``
to see them.

Where it ranks depends on the embedding column. SQLite's tables and PostgreSQL's bytea
table (a server without pgvector) hold float32 bytes that the in-memory index loads; a
pgvector column is ranked in SQL by :class:`~logomesh.audit.semantic.hnsw.HnswIndex`. On
PostgreSQL without pgvector each result says it fell back, and how to fix that; once an admin
installs the extension, the next search converts the table (its vectors copied, not embedded
again) and ranks in SQL from then on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logomesh.audit import AuditFilter, AuditRecord
from logomesh.audit.semantic.hnsw import HnswIndex
from logomesh.audit.semantic.index import VectorIndex
from logomesh.audit.semantic.text import query_text
from logomesh.audit.semantic.worker import EmbeddingWorker
from logomesh.audit.store import AuditStore
from logomesh.storage import pgvector_table, pgvector_upgrade, vectors
from logomesh.storage.pgvector_table import EmbeddingColumn, VectorExtension

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from logomesh.nl import Embedder

logger = logging.getLogger(__name__)

SEARCH_ACTION = "audit.search"
# At ~300 records/s, about seven seconds of embedding at most before a search answers.
DRAIN_BUDGET = 2000


@dataclass(frozen=True, slots=True)
class SearchHit:
    record: AuditRecord
    score: float  # cosine similarity of query and record, -1..1


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[SearchHit]
    embedded: int  # records this search embedded before ranking
    pending: int  # records still without a vector, so not searched
    # Said to the person: PostgreSQL without pgvector, so the in-memory index ranked.
    notice: str | None = None


class SemanticSearch:
    """Meaning-based search over one audit trail, and the worker that keeps it fed."""

    def __init__(self, store: AuditStore, embedder: Embedder) -> None:
        self.store = store
        self.worker = EmbeddingWorker(store.db, embedder)
        self.index = VectorIndex(store.db)
        self.hnsw = HnswIndex(store.db)

    def search(
        self, query: str, where: AuditFilter, *, drain_budget: int = DRAIN_BUDGET
    ) -> SearchResult:
        """The records best matching ``query`` among those ``where`` allows, best first."""
        column, notice = self._embedding_column()  # before the drain writes into it
        embedded, [vector] = self.worker.drain_along([query_text(query)], max(0, drain_budget))
        pending = self.worker.pending()
        ranked = self._rank(column, vector, where)
        records = self.store.records([seq for seq, _ in ranked])
        by_seq = {record.seq: record for record in records}
        hits = [SearchHit(by_seq[seq], score) for seq, score in ranked if seq in by_seq]
        return SearchResult(hits, embedded, pending, notice)

    def _rank(
        self, column: EmbeddingColumn, vector: npt.NDArray[np.float32], where: AuditFilter
    ) -> list[tuple[int, float]]:
        if column is EmbeddingColumn.PGVECTOR:
            return self.hnsw.search(vector, where, exclude_actions={SEARCH_ACTION})
        self.index.refresh()
        return self.index.search(vector, where, exclude_actions={SEARCH_ACTION})

    def _embedding_column(self) -> tuple[EmbeddingColumn, str | None]:
        """The column to rank over, converted to pgvector first if it has arrived since
        migration 0005; with the notice to give when PostgreSQL still lacks it."""
        db = self.store.db
        if db.dialect != "postgresql":
            return EmbeddingColumn.BYTES, None  # SQLite's table: migration 0001 made it
        with db.read() as conn:
            column = vectors.require_vectors(conn)
            if column is EmbeddingColumn.PGVECTOR:
                return column, None
            found = pgvector_table.extension(conn)
            where = pgvector_table.server_name(conn)
        if not found.usable:
            return column, fallback_notice(where, found)
        # The long copy and index build first, without the audit write lock; then the swap.
        with db.read() as conn, conn.begin():
            ready = pgvector_upgrade.build_copy(conn)
        with db.write() as conn:
            held = pgvector_upgrade.swap_in_copy(conn) if ready else None
            column = vectors.require_vectors(conn)
        if column is not EmbeddingColumn.PGVECTOR:  # another process is building the copy
            return column, moving_notice(where, found.version)
        if held is not None:
            logger.warning(
                "pgvector %s is installed now: the audit vectors (%d) moved into a pgvector "
                "column with an HNSW index; audit search ranks in PostgreSQL from now on",
                found.version,
                held,
            )
        self.index = VectorIndex(db)  # its vectors are in the new table: free the memory
        return EmbeddingColumn.PGVECTOR, None

    def close(self) -> None:
        self.worker.stop()


def moving_notice(where: str, version: str | None) -> str:
    """What a search says while another process moves the vectors into pgvector."""
    return (
        f"pgvector {version} is installed in the {where} and another LogoMesh process is "
        "moving the stored vectors into it; this search used the in-memory index meanwhile."
    )


def fallback_notice(where: str, found: VectorExtension) -> str:
    """What a search on PostgreSQL without (a usable) pgvector tells the person."""
    wanted = ".".join(map(str, pgvector_table.MINIMUM_VERSION))
    if found.version is None:
        problem = f"pgvector is not installed in the {where}"
        fix = "run `CREATE EXTENSION vector;` in that database (it needs a superuser)"
    elif not found.on_search_path:
        problem = (
            f"pgvector {found.version} is installed in the {where}, but in schema "
            f"{found.schema}, which is not on LogoMesh's search_path"
        )
        fix = (
            f"add it (`ALTER ROLE <logomesh role> SET search_path = public, {found.schema};`, "
            "then restart LogoMesh)"
        )
    else:
        problem = (
            f"pgvector {found.version} in the {where} is older than {wanted}, which filtered "
            "HNSW search needs"
        )
        fix = "run `ALTER EXTENSION vector UPDATE;` there (after installing pgvector >= 0.8)"
    return (
        f"{problem}; searched with the in-memory index instead, which loads every vector "
        f"into this process. An admin can {fix}; the next `audit search` then moves the "
        "stored vectors into a pgvector column with an HNSW index, without embedding "
        "them again."
    )
