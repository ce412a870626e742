"""A connection straight to the database, past LogoMesh: what an attacker with database
access (or an operator's ad-hoc client) has, on either backend.

On SQLite that is the file opened with the engine's own SQLite library; on PostgreSQL a
psycopg session of the same user. Dropping the append-only protection is the attacker's
first move: on SQLite it drops the triggers; on PostgreSQL it sets
``session_replication_role = replica``, which skips ordinary triggers for this session only
(a superuser's or the table owner's power), leaving them in place for everyone else.
"""

from __future__ import annotations

from typing import Any

from logomesh.engine import Engine
from logomesh.storage import sqlite
from logomesh.storage.database import Database


class RawConnection:
    """Autocommitted statements with SQLite's ``?`` placeholders, on either backend."""

    def __init__(self, connection: Any, *, postgresql: bool) -> None:
        self._conn = connection
        self._postgresql = postgresql

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._postgresql:
            sql = sql.replace("?", "%s")
        cursor = self._conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []

    def close(self) -> None:
        self._conn.close()


def raw_connection(target: Engine | Database) -> RawConnection:
    database = target.database if isinstance(target, Engine) else target
    if database.pg is None:
        assert database.path is not None
        conn = sqlite.dbapi_module().connect(str(database.path), timeout=5)
        conn.isolation_level = None
        return RawConnection(conn, postgresql=False)
    return RawConnection(psycopg_session(database, autocommit=True), postgresql=True)


def psycopg_session(database: Database, *, autocommit: bool) -> Any:
    """A psycopg connection of the same user to the database's PostgreSQL server."""
    import psycopg

    pg = database.pg
    assert pg is not None
    return psycopg.connect(
        host=pg.host,
        port=pg.port,
        dbname=pg.database,
        user=pg.user,
        password=pg.password,
        autocommit=autocommit,
    )


def without_append_only(target: Engine | Database) -> RawConnection:
    """A raw connection on which audit_records and audit_checkpoints can be updated and
    deleted."""
    conn = raw_connection(target)
    if conn._postgresql:
        conn.execute("SET session_replication_role = replica")
    else:
        for statement in (
            *sqlite.DROP_APPEND_ONLY_TRIGGERS,
            *sqlite.DROP_CHECKPOINT_APPEND_ONLY_TRIGGERS,
        ):
            conn.execute(statement)
    return conn


def delete_shared_checkpoints(target: Engine | Database, where: str = "1 = 1") -> int:
    """What an attacker who also cut the checkpoint file does to the team's copy: delete
    rows of audit_checkpoints (``where`` picks them), past the append-only triggers."""
    conn = without_append_only(target)
    try:
        count = conn.execute(f"SELECT count(*) FROM audit_checkpoints WHERE {where}")[0][0]
        conn.execute(f"DELETE FROM audit_checkpoints WHERE {where}")
    finally:
        conn.close()
    return int(count)
