"""The in-memory vector index that audit search ranks with.

Why a matrix in memory rather than sqlite-vec's own KNN, measured on this machine (two
cores, AVX-512) over 100,000 records x 384 dimensions:

==========================================  =============  ===========
ranking one query                           time (p50)     memory
==========================================  =============  ===========
sqlite-vec brute-force KNN (``MATCH``)       about 51 ms    on disk
NumPy float32 matrix-vector product          9.3 ms         154 MB
NumPy float16 (no BLAS kernel for it)        about 150 ms   77 MB
PyTorch float32 ``matrix @ vector``          22 ms          154 MB
PyTorch float16 ``matrix @ vector``          2.8-3.9 ms     77 MB
``argpartition`` for the top k, NumPy        0.9-1.4 ms
==========================================  =============  ===========

(When other processes keep the second core busy, every parallel product here waits for
scheduler ticks: the float16 product then takes 8-16 ms, NumPy's float32 one 16-24 ms.)

So vectors are kept as float16 (scores differ from float32 by at most 3e-4, which swaps
only near-identical records) and multiplied by PyTorch, which the embedding model has
loaded anyway, through a zero-copy view of the NumPy array; without PyTorch the product
falls back to NumPy in float32. sqlite-vec also ranks *before* it filters: "alice's
records since Monday" would take the top k of everyone and then drop most of them. Here each
filter (actor, source, action, outcome, time) is a NumPy boolean mask applied *before* the
top k, for well under a millisecond.

The index loads lazily on the first search (about 2.5 s per 100,000 records: each vector is
read by key, which vec0 does fast, see :mod:`logomesh.storage.vectors`) and afterwards tops
itself up with only the records after the last one it holds. It holds the *embedded prefix*
of the chain: records in seq order up to the first one without a vector. Drains embed oldest
first, so that prefix is everything embedded, and a record still waiting is picked up as soon
as it has its vector. If the record the index stopped at has another hash now (the database
was restored from a backup) it starts again. Without sqlite-vec the embedding table is a plain
BLOB table and all of this works the same, as it does for PostgreSQL's bytea table on a
server without pgvector (with pgvector, :mod:`logomesh.audit.semantic.hnsw` ranks in SQL).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from logomesh.audit.query import AuditFilter
from logomesh.canonical import format_timestamp
from logomesh.storage import vectors
from logomesh.storage.database import Database
from logomesh.storage.pgvector_table import EmbeddingColumn
from logomesh.storage.tables import EMBEDDING_DIMENSIONS
from logomesh.storage.vectors import ChainMark, IndexRow

_FIRST_PAGE = 256  # small, so a top-up that meets a backlog probes few records
_MAX_PAGE = 8192
_TEXT_COLUMNS = ("actor", "source", "action", "outcome")

FloatVector = npt.NDArray[np.float32]
HalfMatrix = npt.NDArray[np.float16]
_Scalar = TypeVar("_Scalar", bound=np.generic)


@dataclass(frozen=True)
class _Snapshot:
    """The first ``n`` rows of every column, safe to read while the index grows."""

    vectors: HalfMatrix
    seqs: npt.NDArray[np.int64]
    micros: npt.NDArray[np.int64]
    codes: dict[str, npt.NDArray[np.int32]]


class VectorIndex:
    """Vectors and filterable fields of an audit trail's embedded records, in seq order.

    Text columns are held as small integer codes with their vocabulary, so a filter on an
    actor is one integer comparison per record. Arrays have spare capacity, grown by doubling.
    """

    _size: int
    _vectors: HalfMatrix
    _seqs: npt.NDArray[np.int64]
    _micros: npt.NDArray[np.int64]
    _codes: dict[str, npt.NDArray[np.int32]]
    _vocabulary: dict[str, dict[str, int]]
    _through: ChainMark  # the last record loaded, to notice a replaced database
    _model: str | None = None  # the model of the vectors loaded (vector_models)

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._reset()

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors loaded so far."""
        return self._size * EMBEDDING_DIMENSIONS * self._vectors.itemsize

    def refresh(self) -> int:
        """Load records embedded since the last refresh; returns how many were added."""
        with self._lock, self.db.read() as conn:
            if vectors.require_vectors(conn) is EmbeddingColumn.PGVECTOR:
                raise ValueError("a pgvector column is ranked in SQL (HnswIndex), not loaded")
            model = vectors.vector_model(conn)
            replaced = (
                self._through.seq and vectors.chain_mark(conn, self._through.seq) != self._through
            )
            if replaced or model != self._model:  # a restored database, or re-embedded vectors
                self._reset()
                self._model = model
            added, page = 0, _FIRST_PAGE
            while True:
                rows = vectors.records_with_vectors(conn, self._through.seq, page)
                embedded = list(takewhile(lambda row: row.embedding is not None, rows))
                if embedded:
                    self._append(embedded)
                    self._through = vectors.chain_mark(conn, embedded[-1].seq)
                    added += len(embedded)
                if len(embedded) < page:  # the end of the chain, or a record still waiting
                    return added
                page = min(page * 2, _MAX_PAGE)

    def search(
        self,
        vector: FloatVector,
        where: AuditFilter,
        *,
        exclude_actions: Collection[str] = (),
    ) -> list[tuple[int, float]]:
        """(seq, cosine similarity) of the best ``where.limit`` matches, best first.

        Equal scores (records with the same text) list the newest first.
        """
        if where.correlation_id:
            raise ValueError("the vector index cannot filter by correlation id")
        with self._lock:
            snapshot = self._snapshot()
            wanted = self._wanted_codes(where, exclude_actions)
        if wanted is None or len(snapshot.seqs) == 0:
            return []
        scores = _similarities(snapshot.vectors, vector)
        seqs = snapshot.seqs
        mask = _mask(snapshot, wanted, where)
        if mask is not None:
            # Keep only the allowed rows: argpartition over an array that is mostly -inf
            # is fourteen times slower than over the few rows left (measured, 100,000).
            rows = np.flatnonzero(mask)
            scores, seqs = scores[rows], seqs[rows]
        k = min(where.limit or 10, len(scores))
        if k <= 0:
            return []
        cut = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
        # Everything tied with the k-th best competes, so ties break by recency, not by luck.
        tied = np.flatnonzero(scores >= scores[cut].min())
        best = tied[np.lexsort((-seqs[tied], -scores[tied]))[:k]]
        return [(int(seqs[i]), float(scores[i])) for i in best]

    # -- internals ---------------------------------------------------------------------

    def _reset(self) -> None:
        self._size = 0
        self._vectors = np.empty((0, EMBEDDING_DIMENSIONS), dtype=np.float16)
        self._seqs = np.empty(0, dtype=np.int64)
        self._micros = np.empty(0, dtype=np.int64)
        self._codes = {name: np.empty(0, dtype=np.int32) for name in _TEXT_COLUMNS}
        self._vocabulary = {name: {} for name in _TEXT_COLUMNS}
        self._through = ChainMark(0, None)

    def _append(self, rows: Sequence[IndexRow]) -> None:
        start, end = self._size, self._size + len(rows)
        self._reserve(end)
        blob = b"".join(_checked(row) for row in rows)
        self._vectors[start:end] = np.frombuffer(blob, dtype="<f4").reshape(len(rows), -1)
        self._seqs[start:end] = [row.seq for row in rows]
        self._micros[start:end] = _micros([row.timestamp for row in rows])
        for name in _TEXT_COLUMNS:
            vocabulary = self._vocabulary[name]
            self._codes[name][start:end] = [
                vocabulary.setdefault(getattr(row, name), len(vocabulary)) for row in rows
            ]
        self._size = end

    def _reserve(self, needed: int) -> None:
        """Grow by doubling into new arrays: snapshots keep reading the old ones safely."""
        capacity = len(self._seqs)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 1024)
        n = self._size
        grown = np.empty((capacity, EMBEDDING_DIMENSIONS), dtype=np.float16)
        grown[:n] = self._vectors[:n]
        self._vectors = grown
        self._seqs = _grow(self._seqs, n, capacity)
        self._micros = _grow(self._micros, n, capacity)
        self._codes = {name: _grow(codes, n, capacity) for name, codes in self._codes.items()}

    def _snapshot(self) -> _Snapshot:
        n = self._size
        return _Snapshot(
            self._vectors[:n],
            self._seqs[:n],
            self._micros[:n],
            {name: codes[:n] for name, codes in self._codes.items()},
        )

    def _wanted_codes(
        self, where: AuditFilter, exclude_actions: Collection[str]
    ) -> dict[str, tuple[list[int], bool]] | None:
        """Per column, the codes to keep (or drop, when the flag is False); None when a
        filter names a value no indexed record has, so nothing can match."""
        wanted: dict[str, tuple[list[int], bool]] = {}
        for name, value in (
            ("actor", where.actor),
            ("source", where.source),
            ("outcome", where.outcome),
        ):
            if value is not None:
                code = self._vocabulary[name].get(value)
                if code is None:
                    return None
                wanted[name] = ([code], True)
        actions = self._vocabulary["action"]
        if where.action:
            pattern = _action_pattern(where.action)
            keep = [code for action, code in actions.items() if pattern.fullmatch(action)]
            if not keep:
                return None
            wanted["action"] = (keep, True)
        elif exclude_actions:
            wanted["action"] = ([actions[a] for a in exclude_actions if a in actions], False)
        return wanted


def _similarities(matrix: HalfMatrix, vector: FloatVector) -> FloatVector:
    """Every row's dot product with ``vector`` (cosines: both sides are unit length)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch comes with sentence-transformers
        return matrix.astype(np.float32) @ vector.astype(np.float32, copy=False)
    product = torch.from_numpy(matrix) @ torch.from_numpy(vector.astype(np.float16))
    return product.float().numpy()


def _mask(
    snapshot: _Snapshot, wanted: dict[str, tuple[list[int], bool]], where: AuditFilter
) -> npt.NDArray[np.bool_] | None:
    masks: list[npt.NDArray[np.bool_]] = []
    for name, (codes, keep) in wanted.items():
        if not codes:
            continue
        column = snapshot.codes[name]
        hit = column == codes[0] if len(codes) == 1 else np.isin(column, codes)
        masks.append(hit if keep else ~hit)
    if where.since is not None:
        masks.append(snapshot.micros >= _micro(where.since))
    if where.until is not None:
        masks.append(snapshot.micros <= _micro(where.until))
    if not masks:
        return None
    combined = masks[0]
    for more in masks[1:]:
        combined = combined & more
    return combined


def _action_pattern(action: str) -> re.Pattern[str]:
    """``audit.*`` as ``audit.query`` would read it: ``*`` is any text, nothing else special."""
    return re.compile(".*".join(re.escape(part) for part in action.split("*")))


def _checked(row: IndexRow) -> bytes:
    data = row.embedding or b""
    if len(data) != vectors.VECTOR_BYTES:
        raise ValueError(f"the stored vector of record #{row.seq} has {len(data)} bytes")
    return data


def _micros(timestamps: Sequence[str]) -> npt.NDArray[np.int64]:
    # Stored as RFC 3339 with a Z; NumPy parses the same text without the zone as UTC.
    return np.array([t.rstrip("Z") for t in timestamps], dtype="datetime64[us]").astype(np.int64)


def _micro(moment: datetime) -> int:
    return int(_micros([format_timestamp(moment)])[0])


def _grow(column: npt.NDArray[_Scalar], n: int, capacity: int) -> npt.NDArray[_Scalar]:
    grown = np.empty(capacity, dtype=column.dtype)
    grown[:n] = column[:n]
    return grown
