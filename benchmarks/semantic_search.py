"""Semantic audit search: ranking over 100,000 records, end to end, and the embedding drain.

Ranking: 100,000 records are appended in batches (``store.append_many``) and given synthetic
vectors (random, normalised) written straight to ``audit_embeddings``: embedding 100,000
texts would take minutes, and what ranking costs does not depend on what the vectors mean.
Measured: loading the index (once, on the first search) and the memory it then holds (this
process's RSS, PSS and USS before and after the load, as the kernel reports them), the
index search alone (query vectors of real queries, embedded beforehand), the same with an actor
filter, and ``audit.search`` end to end through ``Engine.execute`` with the model warm: the
query is embedded every time, and the search's own audit record written. End to end is
measured twice: as the shell runs it (background worker on, searches a moment apart, so the
previous search's record is embedded in between) and back to back without the worker (so
each search first embeds the record of the one before).

Drain: realistic records (a dozen commands, several people and adapters, varied arguments,
some failures) embedded by :meth:`EmbeddingWorker.drain` with the real model, warm.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import replace

import numpy as np

from benchmarks.memory import process_memory
from benchmarks.table import Row, rate
from benchmarks.timing import latency_rows
from benchmarks.workspace import open_engine, private_workspace, sample_entry
from logomesh.audit.models import AuditEntry
from logomesh.audit.query import AuditFilter
from logomesh.audit.semantic.text import query_text
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from logomesh.storage import vectors
from logomesh.storage.tables import EMBEDDING_DIMENSIONS

SEARCH_P95_TARGET_MS = 20.0
DRAIN_TARGET = 300  # records/s
LOAD_MEASURES = (
    "Wall seconds of the first `VectorIndex.refresh()`: every stored vector and its record's "
    "filter fields read from SQLite into the in-memory index."
)
MEMORY_MEASURES = (
    "This process's RSS, PSS and USS (psutil `memory_full_info`) after that first load minus "
    "before it, garbage collected both times: what the index costs the process, allocator "
    "slack and the load's leftovers included, not the size of its arrays."
)
INDEX_MEASURES = (
    "Seconds of `VectorIndex.refresh()` (a top-up that finds nothing new) plus "
    "`VectorIndex.search` of one embedded query (vectors embedded beforehand): ranking only."
)
END_TO_END_MEASURES = (
    "Seconds of `Engine.execute(audit.search)` (run_sync): the query embedded by the warm "
    "model, the index top-up and search, the rows read, the search's own audit record written."
)
DRAIN_MEASURES = (
    "Records embedded by one `EmbeddingWorker.drain()` with the real model, warm, over its "
    "wall seconds: texts built, embedded in batches, vectors written to SQLite."
)
QUERIES = (
    "who restarted the database",
    "failed deploys to production",
    "schema migrations",
    "who exported the audit log",
    "denied commands",
    "database backups last night",
    "what did alice do",
    "tests that failed",
    "pushes to the main branch",
    "configuration changes",
)


def run(quick: bool) -> list[Row]:
    return [
        *ranking(10_000 if quick else 100_000, searches=50 if quick else 200),
        drain(500 if quick else 3_000),
    ]


def ranking(count: int, searches: int) -> list[Row]:
    label = f"{count:,} records"
    with private_workspace() as workspace:
        engine = open_engine(workspace)
        try:
            _fill(engine, count)
            search = engine.semantic_search
            query_vectors = engine.embedder.encode([query_text(q) for q in QUERIES])
            before = process_memory()
            started = time.perf_counter()
            loaded = search.index.refresh()
            load_s = time.perf_counter() - started
            held = process_memory() - before
            if loaded != count:
                return [Row(f"semantic search index load ({label})", f"{loaded}", error=True)]
            alone = _time_index(engine, query_vectors, searches, AuditFilter(limit=10))
            filtered = _time_index(engine, query_vectors, searches, AuditFilter(actor="bench3"))
            catching_up = _time_execute(engine, searches, pause_s=0.0)
            engine.start_embedding_worker()
            kept_up = _time_execute(engine, searches, pause_s=0.1)
        finally:
            engine.close()
    rows = [
        Row(f"semantic search: index load, once ({label})", f"{load_s:.2f} s",
            measures=LOAD_MEASURES),
        Row(f"semantic search: memory the loaded index holds ({label})", held.summary("+"),
            measures=MEMORY_MEASURES),
    ]  # fmt: skip
    for name, samples in (
        ("index search alone", alone),
        ("index search, actor filter", filtered),
        ("audit.search end to end, background worker, 0.1 s apart", kept_up),
        ("audit.search end to end, no worker, back to back", catching_up),
    ):
        metric = f"semantic search: {name} ({label})"
        measures = INDEX_MEASURES if name.startswith("index") else END_TO_END_MEASURES
        rows += latency_rows(
            metric, samples, measures=measures, digits=1, p95_target_ms=SEARCH_P95_TARGET_MS
        )
    return rows


def drain(count: int) -> Row:
    with private_workspace() as workspace:
        engine = open_engine(workspace)
        try:
            entries = [_realistic_entry(i) for i in range(count)]
            engine.audit.store.append_many(entries)
            worker = engine.semantic_search.worker
            engine.embedder.encode(["warm up the model"])
            started = time.perf_counter()
            embedded = worker.drain()
            elapsed = time.perf_counter() - started
            distinct = len({_text_of(entry) for entry in entries})
        finally:
            engine.close()
    metric = f"audit embedding drain, real model ({count:,} records, {distinct:,} distinct)"
    if embedded != count:
        return Row(metric, f"embedded {embedded} of {count}", error=True, measures=DRAIN_MEASURES)
    return Row(
        metric,
        rate(count, elapsed),
        f">= {DRAIN_TARGET:,} records/s",
        count / elapsed >= DRAIN_TARGET,
        measures=DRAIN_MEASURES,
    )


# -- helpers -------------------------------------------------------------------------------


def _fill(engine: Engine, count: int, batch: int = 5_000) -> None:
    """``count`` records with random unit vectors, written the way the worker writes them."""
    store = engine.audit.store
    rng = np.random.default_rng(7)
    for start in range(0, count, batch):
        size = min(batch, count - start)
        records = store.append_many([_bulk_entry(start + i) for i in range(size)])
        matrix = rng.standard_normal((size, EMBEDDING_DIMENSIONS), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        rows = [(record.seq, matrix[i].astype("<f4").tobytes()) for i, record in enumerate(records)]
        with engine.database.write() as conn:
            # Tagged as the engine's model, or the worker would drop them as another model's.
            vectors.adopt_model(conn, engine.embedder.identity, "2026-01-01T00:00:00+00:00")
            vectors.write_vectors(conn, rows)


def _time_index(
    engine: Engine, query_vectors: np.ndarray, searches: int, where: AuditFilter
) -> list[float]:
    index = engine.semantic_search.index
    samples = []
    for i in range(searches + 10):
        started = time.perf_counter()
        index.refresh()
        hits = index.search(query_vectors[i % len(query_vectors)], where)
        elapsed = time.perf_counter() - started
        if not hits:
            raise RuntimeError("the index found nothing")
        if i >= 10:
            samples.append(elapsed)
    return samples


def _time_execute(engine: Engine, searches: int, pause_s: float) -> list[float]:
    """``audit.search`` through the one door. Back to back, each search first embeds the
    record of the one before; with the worker and a pause (a person reading the answer)
    that record is embedded in the background meanwhile."""
    actor = Actor(Source.CLI, getpass.getuser())
    samples = []
    for i in range(searches + 10):
        time.sleep(pause_s)
        request = CommandRequest("audit.search", actor, {"query": QUERIES[i % len(QUERIES)]})
        started = time.perf_counter()
        result = run_sync(engine, request)
        elapsed = time.perf_counter() - started
        if not result.ok or not result.data:
            raise RuntimeError(f"audit.search did not succeed: {result.message}")
        if i >= 10:
            samples.append(elapsed)
    return samples


def _bulk_entry(n: int) -> AuditEntry:
    # sample_entry's action is audit.search, which searches leave out: vary it.
    entry = sample_entry(n, actor=f"bench{n % 10}")
    return replace(entry, action=("status", "db.backup", "deploy.web", "tests.run")[n % 4])


_PEOPLE = ("alice", "bob", "carol", "dave", "eve", "frank")
_SOURCES = (Source.CLI, Source.CLI, Source.SLACK, Source.LSP, Source.PIPELINE)


def _realistic_entry(n: int) -> AuditEntry:
    """Records like a team's week: reads, backups, deploys, test runs, a few failures."""
    actor, source = _PEOPLE[n % len(_PEOPLE)], _SOURCES[n % len(_SOURCES)]
    kind = n % 10
    action, arguments, target = {
        0: ("status", {}, None),
        1: ("audit.query", {"actor": _PEOPLE[(n // 10) % 6], "since": f"{n % 48}h"}, None),
        2: ("db.backup", {"path": f"backups/logomesh-{n}.db"}, f"backups/logomesh-{n}.db"),
        3: ("deploy.web", {"env": ("staging", "prod")[n % 2], "build": n}, "web"),
        4: ("tests.run", {"path": f"tests/test_module_{n % 97}.py", "keyword": f"case_{n}"}, None),
        5: ("git.push", {"branch": f"feature/ticket-{n}", "remote": "origin"}, None),
        6: ("db.restore", {"path": f"backups/logomesh-{n - 4}.db"}, None),
        7: ("config.show", {"key": f"commands.default_timeout_s.{n % 13}"}, None),
        8: ("audit.export", {"path": f"exports/audit-{n}.csv", "format": "csv"}, None),
        9: ("whoami", {"verbose": n % 3 == 0}, None),
    }[kind]
    outcome, error = Outcome.OK, None
    if n % 7 == 3:
        outcome, error = Outcome.ERROR, f"[command.error] {action} failed: exit status {n % 5 + 1}"
    elif n % 11 == 5:
        outcome = Outcome.DENIED
        error = f"[command.denied] {actor} may not run {action}: role viewer lacks it"
    return AuditEntry(
        actor=actor,
        source=source,
        action=action,
        outcome=outcome,
        target=target,
        arguments=arguments,
        error=error,
        duration_ms=float(n % 50),
    )


def _text_of(entry: AuditEntry) -> tuple[object, ...]:
    return (entry.actor, entry.source, entry.action, entry.target, str(entry.arguments),
            entry.outcome, entry.error)  # fmt: skip
