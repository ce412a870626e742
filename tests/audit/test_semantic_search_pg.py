"""``audit.search`` on a real PostgreSQL: ranked by pgvector's HNSW index, filtered in SQL,
the same answers as SQLite's in-memory index, and an honest fallback without pgvector."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.audit.semantic.hnsw import nearest_statement
from logomesh.audit.semantic.search import SEARCH_ACTION, fallback_notice
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder
from logomesh.storage import pgvector_table, pgvector_upgrade, vectors
from logomesh.storage.pgvector_table import EmbeddingColumn, VectorExtension
from tests.audit.pg_vectors import fill_trail, synthetic_entry, synthetic_vectors
from tests.audit.semantic_data import HISTORY, history_entries, unit_vector
from tests.postgres import PgServer

EngineMaker = Callable[..., Engine]
# A role that may own and migrate its database but not install extensions (pgvector is
# not a trusted extension: CREATE EXTENSION vector needs a superuser).
APP_ROLE = "logomesh_app"
APP_PASSWORD = "pw-never-shown"


@pytest.fixture
def engines(
    load: Callable[..., LoadedSettings], shared_embedder: Embedder
) -> Iterator[EngineMaker]:
    """Engines with the session's warm model, on the database ``url`` names."""
    made: list[Engine] = []

    def _make(url: str | None = None) -> Engine:
        loaded = load(**({"LOGOMESH_DATABASE__URL": url} if url else {}))
        made.append(
            build_engine(loaded.settings, provenance=loaded.provenance, embedder=shared_embedder)
        )
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


@pytest.fixture
def pg_engine(engines: EngineMaker, pg_url: str) -> Engine:
    return engines(pg_url)


@pytest.fixture
def pg_history(pg_engine: Engine) -> list[AuditRecord]:
    return pg_engine.audit.record_many(history_entries())


def _search(engine: Engine, **arguments: Any) -> CommandResult:
    request = CommandRequest("audit.search", Actor(Source.CLI, getpass.getuser()), arguments)
    result = run_sync(engine, request)
    assert result.ok, result.message
    return result


def _column(engine: Engine) -> EmbeddingColumn:
    with engine.database.read() as conn:
        return pgvector_table.embedding_column(conn)


def _embedded(engine: Engine) -> int:
    with engine.database.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_embeddings")).scalar_one())


@pytest.mark.usefixtures("pg_history")
def test_postgresql_ranks_in_sql_and_finds_the_restore_record(pg_engine: Engine) -> None:
    """Nothing is loaded into the process: the in-memory index stays empty."""
    result = _search(pg_engine, query="who restarted the database")
    assert result.data[0]["action"] == "db.restore"
    assert result.data[0]["arguments"] == {"path": "/backups/nightly.db"}
    scores = [row["score"] for row in result.data]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1
    assert "Note:" not in result.message and "pgvector" not in result.message
    assert _column(pg_engine) is EmbeddingColumn.PGVECTOR
    assert len(pg_engine.semantic_search.index) == 0
    assert _embedded(pg_engine) == len(HISTORY)


FILTERS: list[tuple[dict[str, str], Callable[[Any], bool]]] = [
    ({"actor": "alice"}, lambda r: r["actor"] == "alice"),
    ({"source": "slack"}, lambda r: r["source"] == "slack"),
    ({"outcome": "denied"}, lambda r: r["outcome"] == "denied"),
    ({"action": "db.*"}, lambda r: r["action"].startswith("db.")),
    ({"actor": "bob", "source": "cli"}, lambda r: (r["actor"], r["source"]) == ("bob", "cli")),
    ({"since": "1h"}, lambda r: r["action"] in {"db.upgrade", "commands.list", "db.backup",
                                                "db.downgrade", "audit.export"}),
    ({"until": "1d"}, lambda r: r["action"] in {"db.restore", "status"}),
]  # fmt: skip


@pytest.mark.usefixtures("pg_history")
def test_filters_are_applied_in_sql(pg_engine: Engine) -> None:
    """Each filter keeps exactly the records it allows, in the unfiltered order."""
    everything = _search(pg_engine, query="database", limit=100).data
    for filters, allowed in FILTERS:
        narrowed = _search(pg_engine, query="database", limit=100, **filters).data
        assert narrowed and all(allowed(row) for row in narrowed), filters
        expected = [row["seq"] for row in everything if allowed(row)]
        assert [row["seq"] for row in narrowed] == expected, filters
    assert _search(pg_engine, query="database", actor="nobody").data == []


def test_searches_do_not_find_searches_on_postgresql(
    pg_engine: Engine, pg_history: list[AuditRecord]
) -> None:
    for _ in range(3):
        _search(pg_engine, query="who restarted the database")
    again = _search(pg_engine, query="who restarted the database", limit=100).data
    assert SEARCH_ACTION not in {row["action"] for row in again}
    assert len(again) == len(pg_history)
    searches = _search(pg_engine, query="restarted database", action=SEARCH_ACTION).data
    assert len(searches) == 4 and {row["action"] for row in searches} == {SEARCH_ACTION}


PARITY_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("who restarted the database", {}),
    ("search the audit log for failed deploys", {}),
    ("find audit records about migrations", {"limit": 5}),
    ("database", {"actor": "bob"}),
    ("backups", {"source": "slack", "limit": 3}),
    ("what changed the schema", {"action": "db.*", "since": "1d"}),
]


def test_sqlite_and_postgresql_trails_of_the_same_records_give_the_same_hits(
    engines: EngineMaker, pg_url: str
) -> None:
    """The in-memory index (float16, SQLite) and HNSW (float32, PostgreSQL) rank the same
    records in the same order, with scores that differ by float16's rounding at most."""
    sqlite_engine, pg = engines(), engines(pg_url)
    for engine in (sqlite_engine, pg):
        engine.audit.record_many(history_entries())
    for query, filters in PARITY_QUERIES:
        in_memory = _search(sqlite_engine, query=query, **filters).data
        in_sql = _search(pg, query=query, **filters).data
        assert in_memory, query
        assert [row["seq"] for row in in_sql] == [row["seq"] for row in in_memory], query
        for a, b in zip(in_memory, in_sql, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=2e-3), query


# -- the HNSW index at work ---------------------------------------------------------------


ROWS = 3000  # enough that the planner prefers the index to a sequential scan and a sort


@pytest.fixture
def filled(pg_engine: Engine) -> Engine:
    pg_engine.ensure_schema()
    fill_trail(pg_engine, ROWS, seed=7)
    return pg_engine


def _plan(engine: Engine, where: AuditFilter) -> str:
    query = synthetic_vectors(7, 1)[0]
    statement = nearest_statement(query, where, {SEARCH_ACTION})
    compiled = statement.compile(
        engine.database.engine, compile_kwargs={"render_postcompile": True}
    )
    with engine.database.read() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).fetchall()
    return "\n".join(row[0] for row in rows)


def test_an_unfiltered_search_is_an_hnsw_index_scan(filled: Engine) -> None:
    plan = _plan(filled, AuditFilter(limit=10))
    assert f"Index Scan using {pgvector_table.HNSW_INDEX}" in plan, plan


@pytest.mark.parametrize(
    ("filters", "through_hnsw"),
    [({"actor": "alice"}, True), ({"actor": "alice", "action": "db.backup"}, False)],
)
def test_filtered_searches_get_k_rows_and_the_true_nearest(
    filled: Engine, filters: dict[str, str], through_hnsw: bool
) -> None:
    """alice's records are 1 in 8: the planner walks the HNSW graph and filters what it
    finds, and of its first 40 candidates only a few pass, so without pgvector's iterative
    scan the search would come back short of 10. alice's db.backup records are 1 in 24, and
    the planner reads them by B-tree and sorts them exactly. The query is a stored vector,
    slightly moved, so the right first hit is known."""
    where = AuditFilter(**filters, limit=10)  # type: ignore[arg-type]
    assert (f"Index Scan using {pgvector_table.HNSW_INDEX}" in _plan(filled, where)) is through_hnsw
    wanted = [
        n for n in range(ROWS)
        if all(getattr(synthetic_entry(n), name) == value for name, value in filters.items())
    ]  # fmt: skip
    stored = synthetic_vectors(7, ROWS)
    target = wanted[len(wanted) // 2]
    noise = np.random.default_rng(1).standard_normal(stored.shape[1]).astype(np.float32)
    query = stored[target] + 0.05 * noise / np.linalg.norm(noise)
    query /= np.linalg.norm(query)
    hits = filled.semantic_search.hnsw.search(query, where, exclude_actions={SEARCH_ACTION})
    assert len(hits) == 10
    assert {seq - 1 for seq, _ in hits} <= set(wanted)
    assert hits[0][0] == target + 1
    assert hits[0][1] == pytest.approx(float(stored[target] @ query), abs=1e-5)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)


def test_a_drain_on_postgresql_fills_exactly_the_holes(pg_engine: Engine) -> None:
    """Vectors written out of order by another process: ``= ANY(%s)`` finds the ones
    present, and the drain embeds only the others."""
    records = pg_engine.audit.record_many([synthetic_entry(n) for n in range(30)])
    present = [r.seq for r in records if r.seq <= 10 or 15 <= r.seq <= 20]
    with pg_engine.database.write() as conn:
        vectors.adopt_model(conn, pg_engine.embedder.identity, "2026-12-01T00:00:00Z")
        assert vectors.write_vectors(conn, [(seq, unit_vector(seq)) for seq in present]) == 16
    worker = pg_engine.semantic_search.worker
    assert worker.drain() == 30 - len(present)
    assert worker.pending() == 0 and worker.drain() == 0
    assert _embedded(pg_engine) == 30


# -- without pgvector ---------------------------------------------------------------------


@pytest.fixture
def app_url(pg_server: PgServer, pg_database: str) -> str:
    """The database, owned by a role that is no superuser: it can migrate its own schema,
    but ``CREATE EXTENSION vector`` fails for it, as on a managed server where LogoMesh's
    role was never granted that. The failure is PostgreSQL's own, not a simulation."""
    pg_server.execute(
        f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    pg_server.execute(f'ALTER DATABASE "{pg_database}" OWNER TO {APP_ROLE}')
    # The socket trusts local roles, so the password is not checked; it is there to show
    # that no message repeats it.
    url = pg_server.url(pg_database, user=APP_ROLE)
    return url.replace(f"{APP_ROLE}@", f"{APP_ROLE}:{APP_PASSWORD}@")


def test_without_pgvector_search_falls_back_says_so_and_converts_once_installed(
    engines: EngineMaker, app_url: str, pg_server: PgServer, pg_database: str
) -> None:
    engine = engines(app_url)
    engine.audit.record_many(history_entries())
    assert _column(engine) is EmbeddingColumn.BYTES
    before = _search(engine, query="who restarted the database")
    assert before.data[0]["action"] == "db.restore"
    assert f"pgvector is not installed in the database {pg_database} on " in before.message
    assert "in-memory index" in before.message and "`CREATE EXTENSION vector;`" in before.message
    assert APP_PASSWORD not in before.message
    assert len(engine.semantic_search.index) == len(HISTORY)  # it really ranked in memory

    stored = dict(
        pg_server.execute("SELECT record_seq, embedding FROM audit_embeddings", pg_database)
    )
    pg_server.execute("CREATE EXTENSION vector", pg_database)  # the admin, as superuser
    result = engine.semantic_search.search("who restarted the database", AuditFilter(limit=10))
    assert result.notice is None
    assert result.embedded == 1  # the record of the search before; the others moved:
    assert _column(engine) is EmbeddingColumn.PGVECTOR
    moved = dict(
        pg_server.execute(
            "SELECT record_seq, substring(vector_send(embedding) FROM 5) FROM audit_embeddings",
            pg_database,
        )
    )
    assert len(stored) == len(HISTORY) and len(moved) == len(HISTORY) + 1
    for seq, data in stored.items():  # bit for bit: little-endian there, big-endian here
        assert np.array_equal(np.frombuffer(data, "<f4"), np.frombuffer(moved[seq], ">f4"))
    after = _search(engine, query="who restarted the database")
    assert "Note:" not in after.message
    assert [row["seq"] for row in after.data] == [row["seq"] for row in before.data]
    [(indexes,)] = pg_server.execute(
        f"SELECT count(*) FROM pg_indexes WHERE indexname = '{pgvector_table.HNSW_INDEX}'",
        pg_database,
    )
    assert indexes == 1
    # Another process still starting finds the table converted, and ranks in SQL too.
    other = engines(app_url)
    assert _search(other, query="who restarted the database").data[0]["action"] == "db.restore"
    assert engine.audit.verify().ok


def test_an_old_pgvector_counts_as_missing_and_says_how_to_update() -> None:
    assert not VectorExtension(None).usable
    assert not VectorExtension("0.7.4").usable
    assert VectorExtension("0.8.0").usable and VectorExtension("0.10.1").usable
    notice = fallback_notice("database team on db.example.com", VectorExtension("0.7.4"))
    assert "pgvector 0.7.4 in the database team on db.example.com is older than 0.8.0" in notice
    assert "`ALTER EXTENSION vector UPDATE;`" in notice and "in-memory index" in notice


def _bytea_trail(engines: EngineMaker, app_url: str) -> Engine:
    """A trail on a server without pgvector, every record embedded into the bytea table."""
    engine = engines(app_url)
    engine.audit.record_many(history_entries())
    assert _search(engine, query="database").data
    assert _column(engine) is EmbeddingColumn.BYTES
    return engine


def _vectors_now(pg_server: PgServer, database: str) -> dict[int, bytes]:
    """Each record's stored vector as little-endian float32 bytes, whichever the column."""
    rows = pg_server.execute(
        "SELECT record_seq, substring(vector_send(embedding) FROM 5) FROM audit_embeddings",
        database,
    )
    return {seq: np.frombuffer(data, ">f4").astype("<f4").tobytes() for seq, data in rows}


def test_a_move_interrupted_after_its_copy_finishes_with_what_was_embedded_since(
    engines: EngineMaker, app_url: str, pg_server: PgServer, pg_database: str
) -> None:
    """The copy and its index are built without the audit write lock; records embedded
    after that (into the old table) are copied when the copy is swapped in, not lost."""
    engine = _bytea_trail(engines, app_url)
    pg_server.execute("CREATE EXTENSION vector", pg_database)
    with engine.database.read() as conn, conn.begin():
        assert pgvector_upgrade.build_copy(conn)  # then the process "dies"
    late = engine.audit.record_many([synthetic_entry(n) for n in range(5)])
    engine.semantic_search.worker.drain()  # into the bytea table, still the live one
    assert _column(engine) is EmbeddingColumn.BYTES
    result = engine.semantic_search.search("deploy.web", AuditFilter(limit=100))
    assert result.notice is None and _column(engine) is EmbeddingColumn.PGVECTOR
    moved = _vectors_now(pg_server, pg_database)
    assert {r.seq for r in late} <= set(moved)
    assert len(moved) == engine.audit.store.count()


def test_vectors_of_a_model_adopted_between_copy_and_swap_are_copied_afresh(
    engines: EngineMaker, app_url: str, pg_server: PgServer, pg_database: str
) -> None:
    """Another process switched models after the copy was built: the copy holds the old
    model's vectors, so the swap copies everything again rather than mix two models."""
    engine = _bytea_trail(engines, app_url)
    pg_server.execute("CREATE EXTENSION vector", pg_database)
    with engine.database.read() as conn, conn.begin():
        assert pgvector_upgrade.build_copy(conn)
    seqs = [seq for (seq,) in pg_server.execute("SELECT seq FROM audit_records", pg_database)]
    with engine.database.write() as conn:
        vectors.adopt_model(conn, "another-model", "2026-12-02T00:00:00Z")
        vectors.write_vectors(conn, [(seq, unit_vector(seq)) for seq in seqs])
    with engine.database.write() as conn:
        assert pgvector_upgrade.swap_in_copy(conn) == len(seqs)
    assert _vectors_now(pg_server, pg_database) == {seq: unit_vector(seq) for seq in seqs}


def test_while_another_process_builds_the_copy_search_still_answers_and_says_so(
    engines: EngineMaker, app_url: str, pg_server: PgServer, pg_database: str
) -> None:
    engine = _bytea_trail(engines, app_url)
    pg_server.execute("CREATE EXTENSION vector", pg_database)
    import psycopg

    with psycopg.connect(pg_server.libpq(pg_database), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (pgvector_upgrade.BUILD_LOCK_KEY,))
        result = _search(engine, query="who restarted the database")
        assert result.data[0]["action"] == "db.restore"
        assert "another LogoMesh process is moving the stored vectors" in result.message
        assert _column(engine) is EmbeddingColumn.BYTES
        # Released before the search, not by closing: a backend ends after the client.
        other.execute("SELECT pg_advisory_unlock(%s)", (pgvector_upgrade.BUILD_LOCK_KEY,))
    after = _search(engine, query="who restarted the database")
    assert "Note:" not in after.message and _column(engine) is EmbeddingColumn.PGVECTOR


def test_pgvector_in_a_schema_off_the_search_path_is_named_and_then_picked_up(
    engines: EngineMaker, pg_server: PgServer, pg_database: str, pg_url: str
) -> None:
    """Installed by an admin into schema ``ext`` before LogoMesh migrated: CREATE EXTENSION
    IF NOT EXISTS does nothing, yet ``vector`` does not resolve, so the table is bytea and
    the search says which schema to add. With it on the search path, a new process (new
    connections) moves the vectors into pgvector."""
    pg_server.execute("CREATE SCHEMA ext", pg_database)
    pg_server.execute("CREATE EXTENSION vector SCHEMA ext", pg_database)
    engine = engines(pg_url)
    engine.audit.record_many(history_entries())
    result = _search(engine, query="who restarted the database")
    assert result.data[0]["action"] == "db.restore"
    assert "in schema ext, which is not on LogoMesh's search_path" in result.message
    assert _column(engine) is EmbeddingColumn.BYTES
    pg_server.execute(f'ALTER DATABASE "{pg_database}" SET search_path = public, ext')
    restarted = engines(pg_url)
    after = _search(restarted, query="who restarted the database")
    assert "Note:" not in after.message and after.data[0]["action"] == "db.restore"
    assert _column(restarted) is EmbeddingColumn.PGVECTOR
