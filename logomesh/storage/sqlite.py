"""Everything SQLite-specific lives here, so the rest of storage stays dialect-neutral.

SQLite is the embedded default: WAL mode so readers never block the writer, a busy timeout
so concurrent writers queue instead of failing, ``BEGIN IMMEDIATE`` for transactions that
must hold the write lock from their first read (the audit chain reads its head and appends
in one step), and the sqlite-vec extension for the embedding column. The stdlib ``sqlite3``
of many Python builds cannot load extensions, so ``pysqlite3`` is used when installed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from logomesh.errors import BackupError, DatabaseCorruptError

IMMEDIATE_OPTION = "logomesh_write_lock"


def dbapi_module() -> ModuleType:
    """pysqlite3 when present (it can load sqlite-vec), else the stdlib module."""
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        return sqlite3


def sqlite_file(url: str) -> Path | None:
    """The database file behind a SQLite URL, or None for other dialects and memory DBs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        module=dbapi_module(),
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (see _begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        load_vector_extension(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def load_vector_extension(dbapi_conn: Any) -> bool:
    """Load sqlite-vec into a raw connection; False when this SQLite cannot load extensions."""
    if not hasattr(dbapi_conn, "enable_load_extension"):
        return False
    try:
        import sqlite_vec  # only SQLite connections need it

        dbapi_conn.enable_load_extension(True)
        sqlite_vec.load(dbapi_conn)
        return True
    except (ImportError, sqlite3.Error, AttributeError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            dbapi_conn.enable_load_extension(False)


def fsync_files(path: Path) -> None:
    """fsync the database file, its WAL and their directory (a new WAL's entry too)."""
    for name in (path, Path(f"{path}-wal"), path.parent):
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:
            continue  # no WAL yet: nothing of it to lose
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _raw_connect(path: Path) -> Any:
    conn = dbapi_module().connect(str(path), timeout=30)
    conn.isolation_level = None
    return conn


def integrity_problem(path: Path, *, stop: threading.Event | None = None) -> str | None:
    """None when ``path`` is a healthy SQLite database, else what is wrong with it.

    With ``stop``, the check is abandoned (:class:`BackupStopped`) soon after it is set."""
    if not path.is_file():
        return f"{path} does not exist"
    try:
        conn = _raw_connect(path)
        try:
            if stop is not None:
                conn.set_progress_handler(stop.is_set, _CHECK_STEP_OPCODES)
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except Exception as exc:  # sqlite3.DatabaseError; pysqlite3 has its own classes
        if stop is not None and stop.is_set():
            raise BackupStopped from exc
        return f"{path} is not a valid SQLite database ({exc})"
    if rows != [("ok",)]:
        return f"{path} failed its integrity check: {rows[0][0]}"
    return None


class BackupStopped(Exception):
    """A backup's ``stop`` event was set; what it had written is already removed."""


# A stoppable backup copies this many pages per step (1 MiB of 4 KiB pages), so it notices
# ``stop`` within a step; the integrity check before it polls every so many VM opcodes.
_BACKUP_STEP_PAGES = 256
_CHECK_STEP_OPCODES = 10_000


def backup(source: Path, destination: Path, *, stop: threading.Event | None = None) -> None:
    """Copy a live database consistently (SQLite's online backup API, safe under writers).

    The copy is written to a ``.partial`` file renamed into place at the end, so a failed
    backup leaves nothing behind. With ``stop``, it copies in steps and, once ``stop`` is
    set, gives up between two steps and raises :class:`BackupError` saying so.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_suffix(destination.suffix + ".partial")
    try:
        problem = integrity_problem(source, stop=stop)
        if problem is not None:
            raise DatabaseCorruptError(
                f"Cannot back up: {problem}. Restore an earlier backup with `logomesh db restore`."
            )
        _copy(source, tmp, stop)
        tmp.replace(destination)
    except BackupStopped:
        tmp.unlink(missing_ok=True)
        raise BackupError(
            f"Backing up {source} to {destination} was stopped before it finished; no partial "
            "backup file was left."
        ) from None
    except DatabaseCorruptError:
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"Backing up {source} to {destination} failed: {exc}") from exc


def _copy(source: Path, target: Path, stop: threading.Event | None) -> None:
    def check_stop(_status: int, _remaining: int, _total: int) -> None:
        if stop is not None and stop.is_set():
            raise BackupStopped  # sqlite3 finishes (abandons) the backup and re-raises

    src, dst = _raw_connect(source), _raw_connect(target)
    try:
        if stop is None:
            src.backup(dst)
        else:
            src.backup(dst, pages=_BACKUP_STEP_PAGES, progress=check_stop)
    finally:
        dst.close()
        src.close()


def restore(backup_file: Path, target: Path) -> None:
    """Overwrite ``target`` with ``backup_file`` through the backup API (WAL-safe)."""
    problem = integrity_problem(backup_file)
    if problem is not None:
        raise BackupError(f"Cannot restore: {problem}. Pick another file from `db backup` list.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and integrity_problem(target) is not None:
        # A corrupt target cannot be opened as a backup destination: move it aside.
        target.replace(target.with_suffix(target.suffix + ".corrupt"))
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    try:
        src, dst = _raw_connect(backup_file), _raw_connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    except Exception as exc:
        raise BackupError(f"Restoring {target} from {backup_file} failed: {exc}") from exc


APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
       BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
       BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END""",
)
DROP_APPEND_ONLY_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_records_no_update",
    "DROP TRIGGER IF EXISTS audit_records_no_delete",
)
# Migration 0007's shared checkpoints, append-only like the records they vouch for.
CHECKPOINT_APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE
       ON audit_checkpoints
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE
       ON audit_checkpoints
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END""",
)
DROP_CHECKPOINT_APPEND_ONLY_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_checkpoints_no_update",
    "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete",
)


def vector_table_sql(has_vec: bool, dimensions: int) -> str:
    """The embedding table: a sqlite-vec ``vec0`` table when the extension is loaded."""
    if has_vec:
        return (
            "CREATE VIRTUAL TABLE IF NOT EXISTS audit_embeddings USING vec0("
            f"record_seq integer primary key, embedding float[{dimensions}])"
        )
    return (
        "CREATE TABLE IF NOT EXISTS audit_embeddings ("
        "record_seq INTEGER PRIMARY KEY, embedding BLOB NOT NULL)"
    )
