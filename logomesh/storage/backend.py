"""Which store is behind ``database.url``, which version, and whether pgvector is there.

``db status`` shows it, ``status`` carries it, and the search code asks it whether it can
use pgvector on this server or must fall back to the in-memory index. One query each, so
it is cheap enough to run on every ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from logomesh.storage import sqlite
from logomesh.storage.database import Database


@dataclass(frozen=True)
class BackendInfo:
    """What :func:`describe` found.

    ``pgvector`` is the installed extension's version in this database; when it is None,
    ``pgvector_available`` says whether the server could ``CREATE EXTENSION vector`` (the
    package is on the server) or not. Both are None and False on SQLite.
    """

    backend: str  # "sqlite" or "postgresql"
    server_version: str  # "18.4"; SQLite's library version for SQLite
    pgvector: str | None = None
    pgvector_available: bool = False

    @property
    def label(self) -> str:
        """``PostgreSQL 18.4 with pgvector 0.8.5``, ``SQLite 3.46.1``: for one-line messages."""
        if self.backend == "sqlite":
            return f"SQLite {self.server_version}"
        if self.pgvector is not None:
            vector = f"with pgvector {self.pgvector}"
        elif self.pgvector_available:
            vector = "(pgvector available, not yet created)"
        else:
            vector = "without pgvector"
        return f"PostgreSQL {self.server_version} {vector}"


_PG_SQL = """
SELECT current_setting('server_version'),
       (SELECT extversion FROM pg_extension WHERE extname = 'vector'),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')
"""


def describe(db: Database) -> BackendInfo:
    """The backend of ``db``; a StorageError (translated) if the server cannot be reached."""
    if db.dialect == "sqlite":
        return BackendInfo("sqlite", sqlite.dbapi_module().sqlite_version)
    if db.dialect != "postgresql":
        return BackendInfo(db.dialect, "unknown")
    with db.read() as conn:
        row = conn.execute(text(_PG_SQL)).one()
    # "18.4 (Debian 18.4-1.pgdg120+1)" on a packaged server: the number is what matters.
    version = str(row[0]).split()[0]
    return BackendInfo(db.dialect, version, row[1], bool(row[2]))
