"""``audit.search``: records found by meaning, with the real model and a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import text

from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.semantic.text import query_text, record_text
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder
from logomesh.storage import sqlite, vectors
from tests.audit.semantic_data import HISTORY, history_entries, unit_vector


@pytest.fixture
def engine(load: Callable[..., LoadedSettings], shared_embedder: Embedder) -> Iterator[Engine]:
    """This module's engine (``run`` uses it too), given the session's warm model."""
    loaded = load()
    eng = build_engine(loaded.settings, provenance=loaded.provenance, embedder=shared_embedder)
    yield eng
    eng.close()


@pytest.fixture
def searching(engine: Engine) -> Engine:
    return engine


@pytest.fixture
def history(searching: Engine) -> list[AuditRecord]:
    return searching.audit.record_many(history_entries())


def _actions(result: CommandResult) -> list[str]:
    assert result.ok, result.message
    return [row["action"] for row in result.data]


def _embedded(engine: Engine) -> int:
    with engine.database.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_embeddings")).scalar_one())


@pytest.mark.usefixtures("history")
def test_who_restarted_the_database_finds_the_restore_record(
    run: Callable[..., CommandResult],
) -> None:
    """The words share nothing with ``db.restore``; the meaning does, and ranks it first."""
    result = run("audit.search", query="who restarted the database")
    actions = _actions(result)
    assert actions[0] == "db.restore"
    unrelated = {"status", "whoami", "config.show", "commands.list", "deploy.web"}
    assert all(actions.index("db.restore") < actions.index(a) for a in unrelated & set(actions))
    scores = [row["score"] for row in result.data]
    assert scores == sorted(scores, reverse=True)
    assert result.data[0]["arguments"] == {"path": "/backups/nightly.db"}


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search the audit log for failed deploys", ("deploy.web", "error")),
        ("find audit records about migrations", ("db.upgrade", "db.downgrade")),
        ("who exported the audit log", ("audit.export",)),
    ],
)
def test_the_commands_own_examples_find_what_they_ask_for(
    run: Callable[..., CommandResult], query: str, expected: tuple[str, ...]
) -> None:
    top = run("audit.search", query=query, limit=3).data[0]
    assert top["action"] in expected
    if "error" in expected:
        assert top["outcome"] == "error"


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        ({"actor": "alice"}, lambda r: r["actor"] == "alice"),
        ({"source": "slack"}, lambda r: r["source"] == "slack"),
        ({"outcome": "denied"}, lambda r: r["outcome"] == "denied"),
        ({"action": "db.*"}, lambda r: r["action"].startswith("db.")),
        ({"actor": "bob", "source": "cli"}, lambda r: (r["actor"], r["source"]) == ("bob", "cli")),
    ],
)
def test_filters_narrow_the_results(
    run: Callable[..., CommandResult], filters: dict[str, str], allowed: Callable[[Any], bool]
) -> None:
    everything = run("audit.search", query="database", limit=100).data
    narrowed = run("audit.search", query="database", limit=100, **filters).data
    assert narrowed and all(allowed(row) for row in narrowed)
    assert {row["seq"] for row in narrowed} == {row["seq"] for row in everything if allowed(row)}


@pytest.mark.usefixtures("history")
def test_time_filters_narrow_the_results(run: Callable[..., CommandResult]) -> None:
    """since/until take ages and ISO times, as audit.query does."""
    recent = run("audit.search", query="database", since="1h", limit=100).data
    assert {row["action"] for row in recent} >= {"db.upgrade", "db.backup", "db.downgrade"}
    assert "db.restore" not in {row["action"] for row in recent}
    older = run("audit.search", query="database", until="1d", limit=100).data
    assert {row["action"] for row in older} == {"db.restore", "status"}
    assert run("audit.search", query="database", actor="nobody").data == []


def test_records_written_before_the_model_loads_are_embedded_later(
    load: Callable[..., LoadedSettings], shared_embedder: Embedder
) -> None:
    """The worker starts while the model is still "loading"; records written meanwhile, by
    the engine and in bulk, are all embedded once it is ready: none is dropped."""
    gate = _LoadingModel(shared_embedder)
    loaded = load()
    searching = build_engine(loaded.settings, provenance=loaded.provenance, embedder=gate)  # type: ignore[arg-type]
    try:
        _embedded_once_loaded(searching, gate)
    finally:
        searching.close()


def _embedded_once_loaded(searching: Engine, gate: _LoadingModel) -> None:
    searching.start_embedding_worker()
    searching.audit.record_many([_entry(i) for i in range(150)])
    for _ in range(3):
        assert run_sync(
            searching, _request("status")
        ).ok  # wakes the worker, which waits on the model
    assert gate.waiting.wait(10)
    started = time.perf_counter()
    assert run_sync(searching, _request("whoami")).ok  # the waiting worker blocks no command
    assert time.perf_counter() - started < 2
    assert _embedded(searching) == 0
    gate.loaded.set()
    records = searching.audit.store.count()
    _wait_for(lambda: _embedded(searching) == searching.audit.store.count())
    assert searching.audit.store.count() >= records


def test_records_written_while_no_worker_runs_are_embedded_by_the_next_drain(
    searching: Engine,
) -> None:
    worker = searching.semantic_search.worker
    searching.audit.record_many([_entry(i) for i in range(70)])
    assert worker.drain() == 70
    searching.audit.record_many([_entry(i) for i in range(70, 100)])
    assert _embedded(searching) == 70
    assert worker.pending() == 30
    assert worker.drain() == 30
    assert worker.drain() == 0
    assert _embedded(searching) == searching.audit.store.count() == 100


def test_a_drain_fills_holes_left_by_others(searching: Engine) -> None:
    """Vectors written out of order (another process, an old version) leave holes; the
    next drain finds and fills exactly those, and then has nothing left to do."""
    records = searching.audit.record_many([_entry(i) for i in range(30)])
    present = [r.seq for r in records if r.seq <= 10 or 15 <= r.seq <= 20]
    with searching.database.write() as conn:
        # Another process of the same model: its vectors are tagged with it (migration 0003).
        vectors.adopt_model(conn, searching.embedder.identity, "2026-12-01T00:00:00Z")
        vectors.write_vectors(conn, [(seq, unit_vector(seq)) for seq in present])
    worker = searching.semantic_search.worker
    assert worker.drain() == 30 - len(present)
    assert worker.pending() == 0 and worker.drain() == 0
    assert _embedded(searching) == 30


def test_a_drain_limit_leaves_the_rest_for_later_and_the_search_says_so(
    searching: Engine,
) -> None:
    searching.audit.record_many([_entry(i) for i in range(40)])
    search = searching.semantic_search
    result = search.search("deploy", _filter(), drain_budget=25)
    assert (result.embedded, result.pending) == (25, 15)
    assert len(search.index) == 25  # only the embedded prefix is searchable yet
    result = search.search("deploy", _filter())
    assert (result.embedded, result.pending) == (15, 0)
    assert len(search.index) == 40


def test_the_index_tops_up_with_new_records_only(
    searching: Engine, history: list[AuditRecord]
) -> None:
    search = searching.semantic_search
    search.search("database", _filter())
    assert len(search.index) == len(history)
    assert search.index.refresh() == 0
    [fresh] = searching.audit.record_many(
        [AuditEntry("frank", Source.CLI, "secrets.rotate", Outcome.OK, target="signing key")]
    )
    assert search.worker.drain() == 1
    assert search.index.refresh() == 1
    hits = search.search("who rotated the signing key", _filter(limit=1)).hits
    assert hits[0].record.seq == fresh.seq


def test_searches_do_not_find_searches(
    run: Callable[..., CommandResult], history: list[AuditRecord]
) -> None:
    """Every audit.search record holds its query, which would outrank what it looked for."""
    for _ in range(3):
        run("audit.search", query="who restarted the database")
    again = run("audit.search", query="who restarted the database", limit=100)
    assert "audit.search" not in _actions(again)
    assert len(again.data) == len(history)
    searches = run("audit.search", query="restarted database", action="audit.search").data
    assert len(searches) == 4 and {row["action"] for row in searches} == {"audit.search"}


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_is_invalid(run: Callable[..., CommandResult], query: str) -> None:
    result = run("audit.search", query=query)
    assert not result.ok
    assert result.error is not None and result.error.code == "command.invalid_arguments"
    assert "`query`" in result.message and "say what to look for" in result.message


def test_limits_are_checked(run: Callable[..., CommandResult]) -> None:
    for limit in (0, 101):
        result = run("audit.search", query="deploys", limit=limit)
        assert result.error is not None and result.error.code == "command.invalid_arguments"


@pytest.mark.usefixtures("history")
def test_every_record_is_embedded_and_the_chain_stays_valid(
    searching: Engine, run: Callable[..., CommandResult]
) -> None:
    """Vectors live outside the hashed content: embedding everything leaves verify green."""
    run("audit.search", query="failed deploys")
    searching.semantic_search.worker.drain()
    assert _embedded(searching) == searching.audit.store.count()
    assert searching.audit.verify().ok


@pytest.fixture
def blob_engine(
    monkeypatch: pytest.MonkeyPatch, load: Callable[..., LoadedSettings], shared_embedder: Embedder
) -> Iterator[Engine]:
    """An engine whose SQLite cannot load sqlite-vec, so migration made a plain BLOB table."""

    def no_extension(dbapi_conn: Any) -> bool:
        return False

    monkeypatch.setattr(sqlite, "load_vector_extension", no_extension)
    loaded = load()
    engine = build_engine(loaded.settings, provenance=loaded.provenance, embedder=shared_embedder)
    yield engine
    engine.close()


def test_without_sqlite_vec_the_plain_blob_table_serves(blob_engine: Engine) -> None:
    blob_engine.audit.record_many(history_entries())
    with blob_engine.database.read() as conn:
        table = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'audit_embeddings'")
        ).scalar_one()
    assert "vec0" not in table and "BLOB" in table
    result = run_sync(blob_engine, _request("audit.search", query="who restarted the database"))
    assert _actions(result)[0] == "db.restore"
    assert _embedded(blob_engine) == len(HISTORY)


def test_records_are_embedded_as_short_sentences() -> None:
    record = vectors.UnembeddedRecord(
        7, "alice", "cli", "db.restore", None, '{"confirm":true,"note":null,"path":"x.db"}',
        "error", "[storage.backup] restore failed",
    )  # fmt: skip
    assert record_text(record) == "alice restore database confirm x.db: failed restore failed"
    assert query_text("search the audit log for failed deploys") == "failed deploys"
    assert query_text("find audit records about migrations") == "migrations"
    assert query_text("who restarted the database") == "who restarted the database"


# -- helpers -------------------------------------------------------------------------------


class _LoadingModel:
    """The shared model behind a gate, like one still loading: encode waits for ``loaded``."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.loaded = threading.Event()
        self.waiting = threading.Event()

    @property
    def identity(self) -> str:
        return self.model.identity

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        self.waiting.set()
        assert self.loaded.wait(30)
        return self.model.encode(texts, batch_size=batch_size)


def _entry(number: int) -> AuditEntry:
    return AuditEntry(
        actor="bench",
        source=Source.PIPELINE,
        action="deploy.web",
        outcome=Outcome.OK,
        arguments={"build": number},
    )


def _request(command: str, **arguments: Any) -> Any:
    import getpass

    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor

    return CommandRequest(command, Actor(Source.CLI, getpass.getuser()), arguments)


def _filter(**values: Any) -> Any:
    from logomesh.audit.query import AuditFilter

    return AuditFilter(**{"limit": 10, **values})


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
