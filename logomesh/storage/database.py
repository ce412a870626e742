"""One database behind one SQLAlchemy engine, with its errors translated for people.

:class:`Database` hides which dialect is in use from the rest of the engine: callers ask
for a read connection or a *write-locked* transaction (the audit chain needs its head read
and its next record inserted under one lock), and get :mod:`logomesh.errors` exceptions
that name the database and say how to recover, never raw driver errors.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from logomesh.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseMissingError,
    StorageError,
)
from logomesh.storage import postgresql, sqlite

# Any 64-bit constant works; it only has to be the same in every LogoMesh process.
AUDIT_LOCK_KEY = 0x4C4F474F4D455348


class Database:
    """The engine's database: connection handling, write locking and error translation."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        try:
            self.dialect = make_url(url).get_backend_name()
        except ArgumentError as exc:
            # Not even parsable, so it cannot be shown with its password hidden: leave it out.
            raise StorageError(
                "`database.url` is not a database URL; expected something like "
                "sqlite:///path/to/logomesh.db or postgresql+psycopg://host/logomesh."
            ) from exc
        self.path = sqlite.sqlite_file(url)
        # (device, inode) of the SQLite file this engine's pooled connections have open.
        self._file_identity: tuple[int, int] | None = None
        # Connections kept by the threads that write through ``driver_write`` (one each).
        self._pinned = threading.local()
        self._pinned_all: list[Any] = []
        self._pinned_lock = threading.Lock()
        # Writers of this process (the audit writer, a pipeline run's recorder, a command)
        # queue here for SQLite's one write lock: a mutex hands it over the moment it is
        # free, where SQLite's busy handler would have a waiter sleep for milliseconds.
        self._writing = threading.RLock()
        self._plain_inserts: dict[
            tuple[str, tuple[str, ...], str | None], tuple[str, _RowOrder]
        ] = {}
        self.pg = postgresql.PgTarget.from_url(url) if self.dialect == "postgresql" else None
        try:
            self.engine: Engine = (
                sqlite.create_sqlite_engine(url, busy_timeout_ms)
                if self.dialect == "sqlite"
                else self._create_server_engine(url)
            )
        except (ImportError, ArgumentError) as exc:  # a missing driver or unknown dialect
            if self.pg is not None and isinstance(exc, ImportError):
                raise postgresql.missing_driver(self.pg, exc) from exc
            where = self.display_url if self.pg is None else f"PostgreSQL at {self.pg.where}"
            raise StorageError(
                f"Cannot open {where}: {exc}. Install the driver its URL names "
                "(for PostgreSQL: postgresql+psycopg, from the postgres extra) or change "
                "`database.url`."
            ) from exc

    def _create_server_engine(self, url: str) -> Engine:
        if self.pg is None:
            return create_engine(url, pool_pre_ping=True)
        # A wait for the audit lock ends at the busy timeout, as SQLite's does, instead of
        # hanging behind a stuck process; the server cancels the statement (lock_timeout).
        # A URL's own ``options`` win: an operator who sets them has decided.
        options = {} if "options" in make_url(url).query else {"options": self._pg_options()}
        engine = create_engine(url, pool_pre_ping=True, connect_args=options)
        target = self.pg
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _record: postgresql.check_server_version(
                dbapi_conn.info.server_version, target
            ),
        )
        return engine

    def _pg_options(self) -> str:
        # synchronous_commit: a commit is on disk before it returns, whatever the server's
        # default, which is what lets a danger command run on a committed start record.
        # lock_timeout 0 would mean "wait for ever", where busy_timeout_ms 0 means "do not
        # wait": the shortest wait PostgreSQL has stands in for it.
        lock_timeout = max(self.busy_timeout_ms, 1)
        return f"-c lock_timeout={lock_timeout} -c synchronous_commit=on"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages and ``status``."""
        return displayed_url(self.url)

    @property
    def where(self) -> str:
        """How messages name this database: its file, or its PostgreSQL server."""
        if self.path is not None:
            return str(self.path)
        if self.pg is not None:
            return f"PostgreSQL at {self.pg.where}"
        return self.display_url

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.translate_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the database's write lock from its first statement."""
        self._check_file()
        with self._write_turn(), self.translate_errors(), self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(**{sqlite.IMMEDIATE_OPTION: True})
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that needs no place in the audit chain's order.

        SQLite has one write lock for everything, so this is :meth:`write` there. On
        PostgreSQL rows lock themselves: a pipeline step's row or an approval's conditional
        update needs nothing more, and taking the chain's advisory lock would make it queue
        behind every audit append of every process (each a durable commit)."""
        if self.dialect != "postgresql":
            with self.write() as conn:
                yield conn
            return
        with self.translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def driver_write(self) -> Iterator[Any]:
        """A DB-API cursor in a transaction holding the write lock, on this thread's own
        connection: what :meth:`write` gives, for the audit writer's many small commits.

        SQLAlchemy's checkout, begin events and reset-on-return cost about 0.17 ms of every
        transaction, ten times the SQL of an audit append; the thread that writes all day
        keeps one connection and speaks to the driver. Same lock, same translated errors.
        """
        self._check_file()
        with self.translate_errors():  # the first connect goes through SQLAlchemy
            connection = self._pinned_connection()
        with self._write_turn():
            if self.dialect == "postgresql":
                connection = self._lock_on_live_connection(connection)
            cursor = connection.cursor()
            try:
                with self._translate_driver_errors():
                    if self.dialect == "sqlite":
                        cursor.execute("BEGIN IMMEDIATE")
                    yield cursor
                    if self.dialect == "sqlite":
                        cursor.execute("COMMIT")
                    else:
                        connection.commit()
            except BaseException:
                # A failed transaction may have left the connection unusable: start afresh.
                with contextlib.suppress(Exception):
                    cursor.close()
                self._drop_pinned(connection)
                raise
            cursor.close()

    def _lock_on_live_connection(self, connection: Any) -> Any:
        """Take the audit lock on ``connection``, or on a new one if the server dropped it.

        A server restarted since the last write (a failover, an upgrade) leaves the pinned
        connection dead, which shows only when it is used. Nothing of this transaction has
        run yet, so one retry on a fresh connection loses nothing; a second failure is the
        server being down, and is reported (the audit trail then spools).
        """
        for attempt in (1, 2):
            cursor = connection.cursor()
            try:
                with self._translate_driver_errors():
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
                cursor.close()
                return connection
            except StorageError:
                driver = connection.driver_connection
                dead = driver is None or driver.closed or getattr(driver, "broken", False)
                self._drop_pinned(connection)
                if attempt == 2 or not dead:
                    raise
                with self.translate_errors():
                    connection = self._pinned_connection()
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _write_turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite); past the busy timeout, SQLite decides."""
        if self.dialect != "sqlite":
            yield
            return
        got = self._writing.acquire(timeout=self.busy_timeout_ms / 1000)
        try:
            yield
        finally:
            if got:
                self._writing.release()

    def _pinned_connection(self) -> Any:
        connection = getattr(self._pinned, "connection", None)
        if connection is None:
            # The pool hands the driver's own errors through here, not SQLAlchemy's.
            with self._translate_driver_errors():
                connection = self._pinned.connection = self.engine.raw_connection()
            with self._pinned_lock:
                self._pinned_all.append(connection)
        return connection

    def _drop_pinned(self, connection: Any) -> None:
        self._pinned.connection = None
        with self._pinned_lock:
            if connection in self._pinned_all:
                self._pinned_all.remove(connection)
        with contextlib.suppress(Exception):
            connection.invalidate()  # closes the driver connection; never back to the pool

    def _close_pinned(self) -> None:
        with self._pinned_lock:
            pinned, self._pinned_all = self._pinned_all, []
        for connection in pinned:
            with contextlib.suppress(Exception):
                connection.invalidate()
        self._pinned = threading.local()

    @contextmanager
    def _translate_driver_errors(self) -> Iterator[None]:
        dbapi = self.engine.dialect.dbapi
        try:
            yield
        except dbapi.OperationalError as exc:  # type: ignore[union-attr]
            raise self._error_for(str(exc)) from exc
        except dbapi.Error as exc:  # type: ignore[union-attr]
            if _looks_corrupt(str(exc)):
                raise self.corrupt_error(str(exc)) from exc
            raise StorageError(f"Database error on {self.where}: {exc}") from exc

    def _check_file(self) -> None:
        """Refuse to write into a SQLite file that is gone, and follow one put back.

        A pooled connection keeps writing to a deleted file's inode, so without this check
        records written after ``rm logomesh.db`` would vanish with it. A file put back (a
        restore, ``logomesh init``) is a new inode: the pool is reopened on it.
        """
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._file_identity is None:
                return  # never opened yet: connecting creates it
            raise DatabaseMissingError(
                f"The database file {self.path} has disappeared (deleted or moved) while "
                "LogoMesh had it open. Put it back, restore a backup with `logomesh db "
                "restore FILE`, or run `logomesh init` to start a new one."
            ) from None
        identity = (stat.st_dev, stat.st_ino)
        if self._file_identity is not None and identity != self._file_identity:
            self._close_pinned()
            self.engine.dispose()
        self._file_identity = identity

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise self._error_for(str(exc.orig)) from exc
        except DBAPIError as exc:
            if _looks_corrupt(str(exc.orig)):
                raise self.corrupt_error(str(exc.orig)) from exc
            raise StorageError(f"Database error on {self.where}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"Database error on {self.where}: {exc}") from exc

    def corrupt_error(self, detail: str) -> DatabaseCorruptError:
        if self.pg is not None:
            return DatabaseCorruptError(
                f"{self.where} reports damaged data ({self.pg.scrub(detail)}). Have its "
                "administrator check the server; a pg_dump backup (`logomesh db backup`) is "
                "restored with pg_restore, as `logomesh db restore` explains."
            )
        where = self.path or self.display_url
        return DatabaseCorruptError(
            f"The database {where} is corrupt or not a LogoMesh database ({detail}). Restore "
            "a backup with `logomesh db restore FILE` (backups are in .logomesh/backups), "
            "or move the file away and run `logomesh init` to start a new one."
        )

    def _error_for(self, detail: str) -> StorageError:
        """The error of a failed operation (the driver's message says which it was)."""
        if self.pg is not None:
            return postgresql.connect_error(self.pg, detail, self.busy_timeout_ms)
        if "locked" in detail or "busy" in detail:
            return DatabaseLockedError(
                f"The database {self.path or self.display_url} stayed locked by another process "
                f"for longer than the busy timeout ({self.busy_timeout_ms} ms). Nothing was "
                "written. Retry, close the process holding it, or raise "
                "`database.busy_timeout_ms`."
            )
        if _looks_corrupt(detail):
            return self.corrupt_error(detail)
        return StorageError(f"Database error on {self.where}: {detail}")

    def make_durable(self) -> None:
        """Make every committed transaction survive a power loss (before a checkpoint).

        SQLite commits with ``synchronous = NORMAL``: a commit is in the WAL, which is not
        fsynced until SQLite checkpoints it. This runs that WAL checkpoint now (SQLite
        fsyncs the WAL, copies it into the database file and fsyncs that) and fsyncs the WAL
        and its directory as well, for what a reader's open snapshot kept in the WAL.
        PostgreSQL commits durably already (``synchronous_commit = on``, set for every
        LogoMesh session whatever the server's default)."""
        if self.path is None:
            return
        with self.translate_errors(), self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        try:
            sqlite.fsync_files(self.path)
        except OSError as exc:
            raise StorageError(
                f"Cannot flush the database {self.path} to disk: {exc}. Check the disk and "
                "the permissions of its directory."
            ) from exc

    def integrity_problem(self) -> str | None:
        """A quick check of the SQLite file; None when healthy or not SQLite."""
        if self.path is None or not self.path.exists():
            return None
        return sqlite.integrity_problem(self.path)

    def insert_plain_rows(
        self,
        conn: Connection,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        skip_existing: str | None = None,
    ) -> None:
        """``executemany`` of rows straight to the driver, compiled once per dialect.

        SQLAlchemy's own executemany processes every parameter of every row (~10 µs a row),
        which is most of a batched audit append. Only for tables whose values need no bind
        processing (text, integers, bytes), and rows that all have the same keys.
        ``skip_existing`` names a unique column: rows whose value is already there are left
        out (``ON CONFLICT DO NOTHING``, the same words in SQLite and PostgreSQL).
        """
        if rows:
            conn.exec_driver_sql(*self._plain_statement(table, rows, skip_existing))

    def insert_driver_rows(
        self,
        cursor: Any,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        skip_existing: str | None = None,
    ) -> None:
        """:meth:`insert_plain_rows` on a cursor of :meth:`driver_write`."""
        if rows:
            cursor.executemany(*self._plain_statement(table, rows, skip_existing))

    def _plain_statement(
        self, table: Table, rows: list[dict[str, Any]], skip_existing: str | None
    ) -> tuple[str, list[Any]]:
        """The INSERT and its parameters in the driver's own style (positional or named)."""
        sql, order = self._plain_insert(table, tuple(rows[0]), skip_existing)
        return sql, list(rows) if order is None else [order(row) for row in rows]

    def _plain_insert(
        self, table: Table, keys: tuple[str, ...], skip_existing: str | None
    ) -> tuple[str, _RowOrder]:
        """The driver's INSERT for these columns, compiled once per table and key set."""
        cache_key = (table.name, keys, skip_existing)
        cached = self._plain_inserts.get(cache_key)
        if cached is None:
            compiled = insert(table).compile(dialect=self.engine.dialect, column_keys=list(keys))
            order = _positional_order(compiled.positiontup) if compiled.positional else None
            sql = str(compiled)
            if skip_existing is not None:
                sql += f" ON CONFLICT ({table.c[skip_existing].name}) DO NOTHING"
            cached = self._plain_inserts[cache_key] = (sql, order)
        return cached

    def dispose(self) -> None:
        self._close_pinned()
        self.engine.dispose()


_RowOrder = Callable[[dict[str, Any]], tuple[Any, ...]] | None


def _positional_order(names: list[str] | None) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A fast row-dict -> parameter-tuple function for positional paramstyles."""
    names = names or []
    if len(names) == 1:
        only = names[0]
        return lambda row: (row[only],)
    getter = itemgetter(*names)
    return lambda row: tuple(getter(row))


def displayed_url(url: str) -> str:
    """``url`` with its password hidden: the one in the user part and the one libpq also
    takes as ``?password=``. Raises ArgumentError for a string that is not a URL."""
    parsed = make_url(url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def _looks_corrupt(detail: str) -> bool:
    detail = detail.lower()
    return "not a database" in detail or "malformed" in detail or "corrupt" in detail


def default_backup_name(directory: Path, stamp: str, revision: str | None) -> Path:
    return directory / f"logomesh-{stamp}-{revision or 'empty'}.db"
