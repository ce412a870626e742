"""Pick the dialect module's SQL for the statements SQLAlchemy cannot express portably."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from logomesh.errors import StorageError
from logomesh.storage import postgresql, sqlite
from logomesh.storage.tables import EMBEDDING_DIMENSIONS


def append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(bind, sqlite.APPEND_ONLY_TRIGGERS, postgresql.APPEND_ONLY_TRIGGERS)


def drop_append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(bind, sqlite.DROP_APPEND_ONLY_TRIGGERS, postgresql.DROP_APPEND_ONLY_TRIGGERS)


def embedding_table(bind: Connection) -> str | None:
    """SQL creating the embedding table, or None where a later migration will add it."""
    if bind.dialect.name != "sqlite":
        return None  # pgvector arrives with the PostgreSQL work
    return sqlite.vector_table_sql(has_vector_extension(bind), EMBEDDING_DIMENSIONS)


def has_vector_extension(bind: Connection) -> bool:
    if bind.dialect.name != "sqlite":
        return False
    try:
        with bind.begin_nested():
            bind.execute(text("SELECT vec_version()"))
    except DBAPIError:
        return False
    return True


def _pick(
    bind: Connection, for_sqlite: tuple[str, ...], for_pg: tuple[str, ...]
) -> tuple[str, ...]:
    name = bind.dialect.name
    if name == "sqlite":
        return for_sqlite
    if name == "postgresql":
        return for_pg
    raise StorageError(
        f"The {name} database dialect is not supported; use SQLite or PostgreSQL "
        "(set `database.url`)."
    )
