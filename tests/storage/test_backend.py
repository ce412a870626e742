"""`db status` and `status` say which store is in use, its version, and whether pgvector is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor
from logomesh.engine import Engine
from logomesh.storage import sqlite
from logomesh.storage.backend import describe
from tests.cli.conftest import Run
from tests.postgres import PgServer


def _run(engine: Engine, owner: Actor, command: str) -> CommandResult:
    return run_sync(engine, CommandRequest(command, owner))


def test_sqlite_reports_its_library_version(
    run: Callable[..., CommandResult],
) -> None:
    result = run("db.status")
    assert result.ok, result.message
    version = sqlite.dbapi_module().sqlite_version
    assert result.data["backend"] == "sqlite" and result.data["server_version"] == version
    assert result.data["pgvector"] is None and result.data["pgvector_available"] is False
    assert f"on SQLite {version}" in result.message
    assert run("status").data["backend"] == f"SQLite {version}"


def test_postgresql_reports_its_version_and_pgvector_once_created(
    pg_server: PgServer,
    pg_database: str,
    pg_url: str,
    make_engine: Callable[..., Engine],
    owner: Actor,
) -> None:
    engine = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    [(version,)] = pg_server.execute("SHOW server_version")
    before = _run(engine, owner, "db.status")
    assert before.ok, before.message
    assert before.data["backend"] == "postgresql"
    assert before.data["server_version"] == version.split()[0]
    # The wheel's server has the package, and a fresh database has not created it yet.
    assert before.data["pgvector"] is None and before.data["pgvector_available"] is True
    assert f"on PostgreSQL {version} (pgvector available, not yet created)" in before.message

    pg_server.execute("CREATE EXTENSION IF NOT EXISTS vector", pg_database)
    [(extension,)] = pg_server.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'", pg_database
    )
    after = _run(engine, owner, "db.status")
    assert after.data["pgvector"] == extension
    assert f"on PostgreSQL {version} with pgvector {extension}" in after.message
    status = _run(engine, owner, "status")
    assert status.data["backend"] == f"PostgreSQL {version} with pgvector {extension}"
    assert describe(engine.database).pgvector == extension


def test_the_cli_shows_the_backend(cli: Callable[..., Run], pg_url: str, workspace: Path) -> None:
    done = cli("db", "status", "--json", env={"LOGOMESH_DATABASE__URL": pg_url})
    assert done.code == 0, done.err
    data = done.json()["data"]
    assert data["backend"] == "postgresql" and int(data["server_version"].split(".")[0]) >= 13
    plain = cli("db", "status", env={"LOGOMESH_DATABASE__URL": pg_url})
    assert "on PostgreSQL" in plain.out, plain.out + plain.err
