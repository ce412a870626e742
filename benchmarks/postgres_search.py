"""`audit search` on PostgreSQL: pgvector's HNSW index at 100,000 and 1,000,000 records.

A team's trail ranks in SQL (``ORDER BY embedding <=> query`` over an HNSW index, the
filters in the same query) instead of in a matrix each process loads. The trails are filled
by ``tests/audit/pg_vectors.fill_trail``: real records through the audit store (a real
chain) and random unit vectors by binary COPY, the index built once at the end; embedding a
million texts would take about an hour and ranking does not depend on what vectors mean.
The in-memory index at 100,000 on SQLite is the ``semantic audit search`` rows above.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import sys
import time
from collections.abc import Iterator

import numpy as np

from benchmarks.postgres_store import temporary_server
from benchmarks.semantic_search import QUERIES
from benchmarks.table import Row, render
from benchmarks.timing import latency_rows
from benchmarks.workspace import open_engine, private_workspace
from logomesh.audit.query import AuditFilter
from logomesh.audit.semantic.text import query_text
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from tests.audit.pg_vectors import fill_trail
from tests.postgres import PgServer

SEARCH_P95_TARGET_MS = 20.0
WARMUP = 10
FILL_MEASURES = (
    "Wall seconds of `fill_trail`: the records appended through `AuditStore.append_many` in "
    "batches of 5,000, their vectors by binary COPY, then one HNSW build "
    "(maintenance_work_mem 2 GB)."
)
INDEX_MEASURES = (
    "Seconds of `HnswIndex.search` of one embedded query (top 10): one transaction setting "
    "hnsw.iterative_scan and ef_search, the ORDER BY distance query with its filters."
)
END_TO_END_MEASURES = (
    "Seconds of `Engine.execute(audit.search)` (run_sync): the query embedded by the warm "
    "model (back to back: with the previous search's own record), the SQL ranking, the "
    "records read, the search's own audit record written."
)


def run(quick: bool, sizes: tuple[int, ...] | None = None) -> list[Row]:
    sizes = sizes or ((10_000, 50_000) if quick else (100_000, 1_000_000))
    searches = 50 if quick else 200
    rows: list[Row] = []
    with temporary_server() as server:
        for count in sizes:
            rows += ranking(server, count, searches)
            # The million takes long to fill: what is measured so far is shown as it comes.
            print(render(rows), file=sys.stderr, flush=True)
    return rows


def ranking(server: PgServer, count: int, searches: int) -> list[Row]:
    label = f"{count:,} records, pgvector HNSW"
    with _engine_on(server) as engine:
        started = time.perf_counter()
        fill_trail(engine, count, maintenance_work_mem="2GB")
        fill_s = time.perf_counter() - started
        query_vectors = engine.embedder.encode([query_text(q) for q in QUERIES])
        alone = _time_index(engine, query_vectors, searches, AuditFilter(limit=10))
        filtered = _time_index(
            engine, query_vectors, searches, AuditFilter(actor="alice", limit=10)
        )
        catching_up = _time_execute(engine, searches, pause_s=0.0)
        engine.start_embedding_worker()
        kept_up = _time_execute(engine, searches, pause_s=0.1)
    rows = [Row(f"PostgreSQL search: fill ({count:,} records)", f"{fill_s:.0f} s",
                measures=FILL_MEASURES)]  # fmt: skip
    for name, samples, measures in (
        ("HNSW search alone", alone, INDEX_MEASURES),
        ("HNSW search, actor filter", filtered, INDEX_MEASURES),
        ("audit.search end to end, background worker, 0.1 s apart", kept_up, END_TO_END_MEASURES),
        ("audit.search end to end, no worker, back to back", catching_up, END_TO_END_MEASURES),
    ):
        rows += latency_rows(
            f"PostgreSQL search: {name} ({label})",
            samples,
            measures=measures,
            digits=1,
            p95_target_ms=SEARCH_P95_TARGET_MS,
        )
    return rows


@contextlib.contextmanager
def _engine_on(server: PgServer) -> Iterator[Engine]:
    database = server.create_database()
    try:
        with private_workspace() as plain:
            environ = {**plain.environ, "LOGOMESH_DATABASE__URL": server.url(database)}
            engine = open_engine(dataclasses.replace(plain, environ=environ))
            try:
                yield engine
            finally:
                engine.close()
    finally:
        server.drop_database(database)


def _time_index(
    engine: Engine, query_vectors: np.ndarray, searches: int, where: AuditFilter
) -> list[float]:
    index = engine.semantic_search.hnsw
    samples = []
    for i in range(searches + WARMUP):
        started = time.perf_counter()
        hits = index.search(query_vectors[i % len(query_vectors)], where)
        elapsed = time.perf_counter() - started
        if len(hits) != 10:
            raise RuntimeError(f"the HNSW search found {len(hits)} of 10")
        if i >= WARMUP:
            samples.append(elapsed)
    return samples


def _time_execute(engine: Engine, searches: int, pause_s: float) -> list[float]:
    """As the SQLite benchmark: back to back, each search first embeds the record of the
    one before; with the worker and a pause, that record is embedded meanwhile."""
    actor = Actor(Source.CLI, getpass.getuser())
    samples = []
    for i in range(searches + WARMUP):
        time.sleep(pause_s)
        request = CommandRequest("audit.search", actor, {"query": QUERIES[i % len(QUERIES)]})
        started = time.perf_counter()
        result = run_sync(engine, request)
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"audit.search failed: {result.message}")
        if i >= WARMUP:
            samples.append(elapsed)
    return samples


if __name__ == "__main__":
    # python -m benchmarks.postgres_search [--quick] [COUNT ...]
    counts = tuple(int(arg) for arg in sys.argv[1:] if arg.isdigit())
    print(render(run(quick="--quick" in sys.argv, sizes=counts or None)))
