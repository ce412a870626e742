"""Pick the dialect module's SQL for the statements SQLAlchemy cannot express portably."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from logomesh.errors import StorageError
from logomesh.storage import pgvector_table, postgresql, sqlite
from logomesh.storage.tables import EMBEDDING_DIMENSIONS


def append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(bind, sqlite.APPEND_ONLY_TRIGGERS, postgresql.APPEND_ONLY_TRIGGERS)


def drop_append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(bind, sqlite.DROP_APPEND_ONLY_TRIGGERS, postgresql.DROP_APPEND_ONLY_TRIGGERS)


def checkpoint_append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(
        bind, sqlite.CHECKPOINT_APPEND_ONLY_TRIGGERS, postgresql.CHECKPOINT_APPEND_ONLY_TRIGGERS
    )


def drop_checkpoint_append_only_triggers(bind: Connection) -> tuple[str, ...]:
    return _pick(
        bind,
        sqlite.DROP_CHECKPOINT_APPEND_ONLY_TRIGGERS,
        postgresql.DROP_CHECKPOINT_APPEND_ONLY_TRIGGERS,
    )


def embedding_table(bind: Connection) -> str | None:
    """SQL creating SQLite's embedding table (migration 0001); None on PostgreSQL, whose
    table migration 0005 makes (:func:`postgresql_embedding_table`)."""
    if bind.dialect.name != "sqlite":
        return None
    return sqlite.vector_table_sql(has_vector_extension(bind), EMBEDDING_DIMENSIONS)


def postgresql_embedding_table(bind: Connection) -> tuple[str, ...]:
    """SQL creating PostgreSQL's embedding table (migration 0005), after trying to install
    pgvector: a vector column with an HNSW index, or bytea without (usable) pgvector.
    Nothing on SQLite, whose table migration 0001 made."""
    if bind.dialect.name != "postgresql":
        return ()
    found = pgvector_table.install_extension(bind)
    column = (
        pgvector_table.EmbeddingColumn.PGVECTOR
        if found.usable
        else pgvector_table.EmbeddingColumn.BYTES
    )
    return pgvector_table.table_statements(column)


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
