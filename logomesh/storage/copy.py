"""Copying one LogoMesh database into another: a local SQLite trail into a team's PostgreSQL.

The copy is of rows, not of files, so it works between any two dialects the schema runs on
(SQLite to PostgreSQL is the case it exists for; SQLite to SQLite comes free). The target
is migrated to the source's revision first, then every table of the schema is copied in
dependency order (tickets before their decisions, runs before their steps), in batches that
are streamed, never all in memory, inside one write-locked transaction on the target. So:

- the audit chain arrives as it was: the same ``seq``, ids and hashes, and the signed
  checkpoints of the workspace still match it (``audit verify`` passes on the copy);
- a failure part-way, or a stop at the command's deadline, rolls everything back and leaves
  the target as it was (migrated, with no rows), and the error says so;
- nobody can write to the target meanwhile (PostgreSQL's advisory lock is the one every
  audit append takes), and the source is read in one snapshot, so what arrives is
  consistent even while other processes go on writing to the source.

A target that already holds rows is refused: two trails cannot be merged into one chain.
Vectors are not copied: they are derived from the records, their storage differs by dialect
(sqlite-vec's virtual table, pgvector's column), and the embedding worker rebuilds them on
the target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, make_url, select

from logomesh.errors import DatabaseCopyError, LogoMeshError
from logomesh.storage import schema
from logomesh.storage.database import Database
from logomesh.storage.migrate import Migrator
from logomesh.storage.reach import check_reachable
from logomesh.storage.tables import Base

# Vectors and the table naming the model that made them: rebuilt on the target.
SKIPPED_TABLES = frozenset({"audit_embeddings", "vector_models"})
BATCH_ROWS = 1000

# (message, fraction done) from the copying thread; the caller forwards it.
ProgressCallback = Callable[[str, float | None], None]


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int


@dataclass(frozen=True)
class CopyResult:
    source: str  # display URLs: passwords hidden
    target: str
    revision: str
    tables: tuple[TableCopy, ...]
    skipped: tuple[str, ...]

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def rows_of(self, name: str) -> int:
        return next((table.rows for table in self.tables if table.name == name), 0)


class _Stopped(Exception):
    """The command's deadline passed between two batches."""


def copied_tables() -> list[Table]:
    """The schema's tables in dependency order (parents first), less the skipped ones."""
    return [table for table in Base.metadata.sorted_tables if table.name not in SKIPPED_TABLES]


def copy_database(
    source: Database,
    target: Database,
    target_migrator: Migrator,
    *,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> CopyResult:
    """Copy every row of ``source`` into the empty ``target`` (see the module docstring)."""
    if batch_rows < 1:
        raise ValueError("a batch holds at least one row")
    _refuse_same_database(source, target)
    revision = schema.current_revision(source)
    head = target_migrator.head()
    if revision != head:
        raise DatabaseCopyError(
            f"The source database {source.display_url} is at schema {revision or 'empty'}, "
            f"not {head}. Run `logomesh db upgrade` on it first, then copy again."
        )
    check_reachable(target, "the `--to` URL")
    target_migrator.upgrade()
    tables = copied_tables()
    report = on_progress or _no_progress
    copied: list[TableCopy] = []
    current = "the target's tables"  # what was being done, for the error
    try:
        with _snapshot(source) as src, target.write() as dst:
            _refuse_rows(target, dst, tables)
            totals = {table.name: _count(src, table) for table in tables}
            overall = sum(totals.values())
            done = 0
            for table in tables:
                current, rows = table.name, 0
                for batch in _batches(src, table, batch_rows):
                    if stop is not None and stop.is_set():
                        raise _Stopped
                    dst.execute(table.insert(), batch)
                    rows += len(batch)
                    done += len(batch)
                    report(
                        f"{table.name}: {rows} of {totals[table.name]} rows",
                        done / overall if overall else None,
                    )
                copied.append(TableCopy(table.name, rows))
    except DatabaseCopyError:
        raise
    except _Stopped:
        raise DatabaseCopyError(
            f"Copying to {target.display_url} was stopped before it finished; its transaction "
            "was rolled back and the target holds no rows, as before."
        ) from None
    except LogoMeshError as exc:
        raise _rolled_back(target, current, exc.user_message) from exc
    return CopyResult(
        source.display_url,
        target.display_url,
        head,
        tuple(copied),
        tuple(sorted(SKIPPED_TABLES)),
    )


def _no_progress(_message: str, _fraction: float | None) -> None:
    return None


def _refuse_same_database(source: Database, target: Database) -> None:
    if _identity(source) == _identity(target):
        raise DatabaseCopyError(
            f"{target.display_url} is the database this engine already uses; copy to another "
            "one (`logomesh db copy --to URL` with a new, empty database's URL)."
        )


def _identity(db: Database) -> tuple[str, ...]:
    if db.path is not None:
        return ("sqlite", str(Path(db.path).resolve()))
    url = make_url(db.url)
    host = url.host or str(url.query.get("host", ""))
    return (db.dialect, host, str(url.port or ""), url.database or "", url.username or "")


@contextmanager
def _snapshot(source: Database) -> Iterator[Connection]:
    """One read transaction over every table, so the rows copied belong together."""
    with source.read() as conn:
        if source.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _refuse_rows(target: Database, conn: Connection, tables: list[Table]) -> None:
    """Under the target's write lock: a copy may only fill tables that hold nothing."""
    filled = [(table.name, _count(conn, table)) for table in tables]
    filled = [(name, rows) for name, rows in filled if rows]
    if filled:
        listed = ", ".join(f"{name} ({rows} rows)" for name, rows in filled)
        raise DatabaseCopyError(
            f"The target database {target.display_url} is not empty: {listed}. A copy only "
            "fills an empty database, so that two audit trails never mix. Create a new "
            "database (`createdb NAME`, or CREATE DATABASE) and copy to it, or drop and "
            "recreate this one if its rows are not needed."
        )


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _batches(conn: Connection, table: Table, size: int) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in primary-key order, ``size`` at a time, streamed from the driver."""
    query = select(table).order_by(*table.primary_key.columns)
    result = conn.execution_options(stream_results=True, yield_per=size).execute(query)
    for partition in result.mappings().partitions(size):
        yield [dict(row) for row in partition]


def _rolled_back(target: Database, table: str, detail: str) -> DatabaseCopyError:
    return DatabaseCopyError(
        f"Copying {table} to {target.display_url} failed ({detail}). The copy's transaction "
        "was rolled back: the target holds no rows, as before, and the source is unchanged. "
        "Fix what the error names and run `logomesh db copy --to URL` again."
    )
