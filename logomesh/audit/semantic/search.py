"""Audit search by meaning: "who restarted the database" finds the ``db.restore`` record.

One :class:`SemanticSearch` per engine owns the embedding worker and the vector index of
its audit trail. A search first embeds records still waiting (a bounded number, so a record
written a moment ago is found at once, yet a search after a long backlog does not stall),
with the query in the same call of the model, then tops the index up, ranks with the
filters applied, and reads the winning records through :class:`AuditStore`, in score order.

Searches do not find searches: every ``audit.search`` record holds its query text, which
would otherwise outrank the records it was looking for. Ask for ``action="audit.search"``
to see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from logomesh.audit import AuditFilter, AuditRecord
from logomesh.audit.semantic.index import VectorIndex
from logomesh.audit.semantic.text import query_text
from logomesh.audit.semantic.worker import EmbeddingWorker
from logomesh.audit.store import AuditStore

if TYPE_CHECKING:
    from logomesh.nl import Embedder

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


class SemanticSearch:
    """Meaning-based search over one audit trail, and the worker that keeps it fed."""

    def __init__(self, store: AuditStore, embedder: Embedder) -> None:
        self.store = store
        self.worker = EmbeddingWorker(store.db, embedder)
        self.index = VectorIndex(store.db)

    def search(
        self, query: str, where: AuditFilter, *, drain_budget: int = DRAIN_BUDGET
    ) -> SearchResult:
        """The records best matching ``query`` among those ``where`` allows, best first."""
        embedded, [vector] = self.worker.drain_along([query_text(query)], max(0, drain_budget))
        pending = self.worker.pending()
        self.index.refresh()
        ranked = self.index.search(vector, where, exclude_actions={SEARCH_ACTION})
        records = self.store.records([seq for seq, _ in ranked])
        by_seq = {record.seq: record for record in records}
        hits = [SearchHit(by_seq[seq], score) for seq, score in ranked if seq in by_seq]
        return SearchResult(hits, embedded, pending)

    def close(self) -> None:
        self.worker.stop()
