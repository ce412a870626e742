"""Audit search ranked inside PostgreSQL, through pgvector's HNSW index.

The counterpart of :class:`~logomesh.audit.semantic.index.VectorIndex` for a trail whose
embedding column is a pgvector ``vector`` (migration 0005): nothing is loaded into the
process, and each search is one query, ``ORDER BY embedding <=> query LIMIT k``, which the
planner answers from the HNSW index. It takes the same arguments and returns the same
(seq, cosine similarity) pairs, best first, so the search above does not care which ranked.

The filters are :func:`~logomesh.audit.query.apply_filter`'s, the ones ``audit query``
uses, as a WHERE on the joined records. An approximate index that filters *after* it ranks
would starve them ("alice's records" from the top 40 of everyone's); pgvector 0.8's iterative
scan keeps walking the graph until ``k`` rows pass (up to ``hnsw.max_scan_tuples``), and
for a filter so selective that a B-tree is cheaper the planner takes that and sorts exactly.
``relaxed_order`` lets the walk return rows slightly out of order, so they are sorted again
here, with equal distances newest first, as the in-memory index breaks ties.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, Float, Select, bindparam, cast, column, select, table, text
from sqlalchemy.types import UserDefinedType

from logomesh.audit.query import AuditFilter, apply_filter
from logomesh.storage.database import Database
from logomesh.storage.tables import EMBEDDING_DIMENSIONS, audit_records

# The graph's candidate list: pgvector's default of 40, raised for large k (its cap: 1000).
_MIN_EF_SEARCH = 40
_MAX_EF_SEARCH = 1000
# Extra rows fetched beyond k, so records tied with the k-th (same text, same vector) can
# be ordered newest first rather than in the graph's order.
_TIE_SLACK = 10


class _Vector(UserDefinedType[str]):
    """pgvector's column type, only to cast the query's text form in SQL."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return f"vector({EMBEDDING_DIMENSIONS})"


_embeddings = table(
    "audit_embeddings", column("record_seq", BigInteger()), column("embedding", _Vector())
)


class HnswIndex:
    """Ranks an audit trail's records in PostgreSQL under the same filters as audit query."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(
        self,
        vector: npt.NDArray[np.float32],
        where: AuditFilter,
        *,
        exclude_actions: Collection[str] = (),
    ) -> list[tuple[int, float]]:
        """(seq, cosine similarity) of the best ``where.limit`` matches, best first."""
        k = where.limit or 10
        if k <= 0:
            return []
        statement = nearest_statement(vector, where, exclude_actions)
        ef_search = min(_MAX_EF_SEARCH, max(_MIN_EF_SEARCH, 2 * (k + _TIE_SLACK)))
        with self.db.read() as conn, conn.begin():
            # SET LOCAL, as set_config(..., true): for this transaction only, so a pooled
            # connection goes back with pgvector's defaults.
            conn.execute(
                text(
                    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                    "set_config('hnsw.ef_search', :ef, true)"
                ),
                {"ef": str(ef_search)},
            )
            rows = conn.execute(statement).all()
        ranked = sorted(rows, key=lambda row: (row.distance, -row.record_seq))[:k]
        return [(int(row.record_seq), 1.0 - float(row.distance)) for row in ranked]


def nearest_statement(
    vector: npt.NDArray[np.float32], where: AuditFilter, exclude_actions: Collection[str]
) -> Select[Any]:
    """The query :meth:`HnswIndex.search` runs (public for tests that EXPLAIN it)."""
    query = cast(bindparam("query", vector_literal(vector)), _Vector())
    distance = _embeddings.c.embedding.op("<=>", return_type=Float())(query).label("distance")
    statement = select(_embeddings.c.record_seq, distance).join_from(
        _embeddings, audit_records, audit_records.c.seq == _embeddings.c.record_seq
    )
    statement = apply_filter(statement, replace(where, limit=None))
    if not where.action and exclude_actions:
        statement = statement.where(audit_records.c.action.not_in(list(exclude_actions)))
    # Ordered by the distance alone, which is what lets the planner use the HNSW index.
    return statement.order_by(None).order_by(distance).limit((where.limit or 10) + _TIE_SLACK)


def vector_literal(vector: npt.NDArray[np.float32]) -> str:
    """pgvector's text form of a query vector (each float32 exactly, by ``repr``)."""
    return "[" + ",".join(map(repr, vector.astype(np.float32).tolist())) + "]"
