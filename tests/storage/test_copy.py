"""``db copy``: a real SQLite trail (commands, payloads, signed checkpoints, an approval, a
pipeline run) copied into a real PostgreSQL, verified there by an engine of its own; and the
copies that must be refused or rolled back, leaving the target as it was."""

from __future__ import annotations

import asyncio
import getpass
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, text

from logomesh.audit.models import AuditEntry
from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandResult,
    CommandSpec,
)
from logomesh.commands.registry import CommandRegistry
from logomesh.commands.values import Actor, Outcome, RiskLevel, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.errors import DatabaseCopyError
from logomesh.events import CommandProgress
from logomesh.storage.copy import copied_tables, copy_database
from logomesh.storage.database import Database
from logomesh.storage.migrate import Migrator
from logomesh.storage.schema import HEAD_REVISION, current_revision
from tests.postgres import PgServer

ME = Actor(Source.CLI, getpass.getuser())
PASSWORD = "n0t-4-l0g-s3cret"

PIPELINE = """\
version: 1
name: build
steps:
  - {id: compile, uses: t.echo, with: {say: compiled}}
  - {id: report, uses: t.echo, with: {say: "${{ steps.compile.data.say }} and reported"}}
"""


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


async def _echo(ctx: CommandContext, args: BaseModel) -> CommandOutput:
    said = args.model_dump()
    return CommandOutput(data=said, message="echo", output=f"long output of {said}\n" * 50)


def _registry() -> CommandRegistry:
    """t.echo (read, with output kept as a payload) and t.deploy (danger: an approval)."""
    registry = CommandRegistry()
    registry.register(CommandSpec("t.echo", "test", Loose, "t.run", RiskLevel.READ, _echo))
    registry.register(CommandSpec("t.deploy", "test", Loose, "t.run", RiskLevel.DANGER, _echo))
    return registry


@pytest.fixture
def engines(load: Callable[..., LoadedSettings]) -> Iterator[Callable[..., Engine]]:
    """Engines on the test workspace (checkpoint every 5 records), on another URL if given."""
    made: list[Engine] = []

    def _make(url: str | None = None) -> Engine:
        env = {"LOGOMESH_AUDIT__CHECKPOINT_EVERY": "5"}
        if url is not None:
            env["LOGOMESH_DATABASE__URL"] = url
        made.append(build_engine(load(**env).settings, registry=_registry()))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


def execute(engine: Engine, command: str, confirmed: bool = False, **args: Any) -> CommandResult:
    request = CommandRequest(command, ME, args, confirmed=confirmed)
    return asyncio.run(engine.execute(request))


@pytest.fixture
def source(engines: Callable[..., Engine], workspace: Path) -> Engine:
    """A local SQLite trail with something in every table the copy carries."""
    (workspace / "pipelines").mkdir()
    (workspace / "pipelines" / "build.yaml").write_text(PIPELINE, encoding="utf-8")
    engine = engines()
    for command in ("status", "whoami", "t.echo"):
        assert execute(engine, command).ok
    assert execute(engine, "pipeline.build").ok
    assert execute(engine, "t.deploy", confirmed=True, to="prod").ok  # ticket and decision
    entries = [
        AuditEntry(
            actor="someone",
            source=Source.SYSTEM,
            action="llm.complete",
            outcome=Outcome.OK,
            model="tiny",
            prompt=f"prompt {n}",
            response=f"response {n}",
            tokens_in=n,
            tokens_out=2 * n,
        )
        for n in range(23)
    ]
    engine.audit.record_many(entries)
    engine.audit.checkpoint()
    return engine


def rows_of(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every copied table, in primary-key order."""
    with db.read() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(
                    select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in copied_tables()
        }


def counts(db: Database) -> dict[str, int]:
    return {name: len(rows) for name, rows in rows_of(db).items()}


def test_a_sqlite_trail_arrives_in_postgresql_whole_and_verifies_there(
    source: Engine, engines: Callable[..., Engine], pg_url: str
) -> None:
    before = rows_of(source.database)
    assert all(before[name] for name in before), "every table the copy carries has rows"
    progress: list[CommandProgress] = []
    source.events.subscribe(CommandProgress, progress.append)

    result = execute(source, "db.copy", to=pg_url)

    assert result.ok, result.message
    said = [event.message for event in progress if event.command == "db.copy"]
    assert f"audit_records: {len(before['audit_records'])} of " in " ".join(said)
    assert result.data["rows"] == {name: len(rows) for name, rows in before.items()}
    assert "embedding worker rebuilds" in result.message
    target = engines(pg_url)
    assert rows_of(target.database) == before  # same seq, ids, hashes, payload bytes, tickets
    assert current_revision(target.database) == HEAD_REVISION
    verified = execute(target, "audit.verify")
    assert verified.ok, verified.message
    assert verified.data["ok"] and verified.data["records"] == len(before["audit_records"])
    assert verified.data["checkpoints_checked"] >= 2  # the workspace's signed heads match
    # The copy's own record, in the source trail, names both ends.
    head = source.audit.store.head().seq
    record = source.audit.store.records([head])[0]
    assert record.action == "db.copy" and record.details["target"] == target.database.display_url
    # That record (the first after the copy) is the source's alone: had the schedule signed a
    # checkpoint of it, the workspace's file would contradict the copy until `init --team`
    # sets it aside (tests/cli/test_init_team.py). This trail's length keeps it unsigned.
    assert head % 5 != 0
    assert result.data["verified"]["ok"]  # and db copy checked the copy itself, before it
    assert record.details["source"] == source.database.display_url


def test_the_copy_streams_in_batches_says_how_far_it_is_and_copies_sqlite_to_sqlite(
    source: Engine, tmp_path: Path
) -> None:
    target = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    said: list[tuple[str, float | None]] = []
    try:
        done = copy_database(
            source.database,
            target,
            Migrator(target, tmp_path / "backups"),
            batch_rows=7,
            on_progress=lambda message, fraction: said.append((message, fraction)),
        )
        assert rows_of(target) == rows_of(source.database)
    finally:
        target.dispose()
    records = done.rows_of("audit_records")
    assert records > 7 and done.skipped == ("audit_embeddings", "vector_models")
    record_steps = [message for message, _ in said if message.startswith("audit_records:")]
    assert len(record_steps) == -(-records // 7)  # one report per batch of 7
    assert record_steps[-1] == f"audit_records: {records} of {records} rows"
    fractions = [fraction for _, fraction in said]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_postgresql_trail_copies_back_to_sqlite(
    source: Engine, engines: Callable[..., Engine], pg_url: str, tmp_path: Path
) -> None:
    """The other way: read in one REPEATABLE READ snapshot, streamed by a server cursor."""
    assert execute(source, "db.copy", to=pg_url).ok
    team = engines(pg_url)
    expected = rows_of(team.database)
    back = f"sqlite:///{tmp_path / 'back.db'}"

    result = execute(team, "db.copy", to=back)

    assert result.ok, result.message
    copy = Database(back)
    try:
        assert rows_of(copy) == expected
    finally:
        copy.dispose()


def test_a_target_that_holds_rows_is_refused_and_names_them(
    source: Engine, engines: Callable[..., Engine], pg_url: str
) -> None:
    assert execute(source, "db.copy", to=pg_url).ok
    target = engines(pg_url)
    before = counts(target.database)

    again = execute(source, "db.copy", to=pg_url)

    assert again.error is not None and again.error.code == "storage.copy"
    assert "is not empty" in again.message
    assert f"audit_records ({before['audit_records']} rows)" in again.message
    assert "Create a new database" in again.message
    assert counts(target.database) == before


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://logomesh:{PASSWORD}@127.0.0.1:1/team",
        f"postgresql+psycopg://logomesh@127.0.0.1:1/team?password={PASSWORD}",  # libpq's form
    ],
    ids=["in-userinfo", "as-parameter"],
)
def test_an_unreachable_target_names_the_server_and_option_never_the_password(
    source: Engine, url: str
) -> None:

    result = execute(source, "db.copy", to=url)

    assert result.error is not None and result.error.code == "storage.unreachable"
    assert "127.0.0.1:1/team" in result.message and "`--to` URL" in result.message
    assert "PGPASSWORD" in result.message
    assert PASSWORD not in result.message
    with source.database.read() as conn:
        trail = conn.execute(text("SELECT * FROM audit_records")).all()
    assert trail and not any(PASSWORD in str(value) for row in trail for value in row)


def test_a_copy_that_fails_halfway_leaves_the_target_as_it_was(
    source: Engine, engines: Callable[..., Engine], pg_server: PgServer, pg_database: str
) -> None:
    # SQLite keeps a value longer than its column allows; PostgreSQL refuses it. The steps
    # are copied last, after the whole audit trail: everything before must be rolled back.
    with source.database.write() as conn:
        conn.execute(
            text("UPDATE pipeline_steps SET step_id = step_id || :pad"), {"pad": "x" * 300}
        )
    url = pg_server.url(pg_database)

    failed = execute(source, "db.copy", to=url)

    assert failed.error is not None and failed.error.code == "storage.copy"
    assert "Copying pipeline_steps" in failed.message and "rolled back" in failed.message
    assert "too long" in failed.message
    target = engines(url)
    assert current_revision(target.database) == HEAD_REVISION
    assert set(counts(target.database).values()) == {0}
    assert pg_server.execute("SELECT count(*) FROM audit_records", pg_database) == [(0,)]

    with source.database.write() as conn:
        conn.execute(text("UPDATE pipeline_steps SET step_id = substr(step_id, 1, 50)"))
    again = execute(source, "db.copy", to=url)  # the same target, once the row is fixed
    assert again.ok, again.message
    assert again.data["rows"]["audit_records"] == counts(target.database)["audit_records"]


def test_a_copy_stopped_at_its_deadline_is_rolled_back(
    source: Engine, tmp_path: Path, pg_server: PgServer, pg_database: str
) -> None:
    target = Database(pg_server.url(pg_database))
    stop = threading.Event()
    stop.set()
    try:
        with pytest.raises(DatabaseCopyError, match="stopped before it finished"):
            copy_database(source.database, target, Migrator(target, tmp_path), stop=stop)
        assert set(counts(target).values()) == {0}
    finally:
        target.dispose()


def test_copying_a_database_into_itself_is_refused(source: Engine) -> None:
    result = execute(source, "db.copy", to=source.database.url)

    assert result.error is not None and result.error.code == "storage.copy"
    assert "already uses" in result.message


def test_a_target_url_that_is_no_url_says_what_to_give(source: Engine) -> None:
    result = execute(source, "db.copy", to="team-database")

    assert result.error is not None and result.error.code == "command.invalid_arguments"
    assert "postgresql+psycopg://" in result.message
