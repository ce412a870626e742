"""Built-in commands over the database schema and its backups.

Their work blocks (SQLite, file copies, pg_dump), so it runs in threads through
:meth:`CommandContext.run_in_thread`, and a timeout says what became of it: a backup stops
at the deadline and leaves no file; a migration or a restore cannot be stopped part-way
and is reported as still running, with its outcome audited when it ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import BackupError, DatabaseCopyError, InvalidArgumentsError
from logomesh.plural import plural
from logomesh.storage.backend import describe

if TYPE_CHECKING:
    from logomesh.audit import VerifyReport
    from logomesh.storage.copy import CopyResult

_SEE_SCHEMA = "`logomesh db status` shows the schema revision and the backups once it is done"


@command(
    "db.status",
    summary="Show the database backend and version, schema revision, migrations and backups",
    permission="db.read",
    risk=RiskLevel.READ,
    examples=(
        "database status",
        "are migrations pending",
        "list database backups",
        "what schema revision is the database on",
        "is the database up to date",
        "show the migration state",
    ),
)
async def db_status(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    engine = ctx.engine
    problem = await ctx.run_in_thread(
        engine.database.integrity_problem, what="checking the database's integrity"
    )
    if problem is not None:
        raise engine.database.corrupt_error(problem)
    status = await ctx.run_in_thread(engine.migrator.status, what="reading the schema revision")
    info = await ctx.run_in_thread(
        describe, engine.database, what="asking the database its version"
    )
    data = {
        "database": engine.database.display_url,
        "backend": info.backend,
        "server_version": info.server_version,
        "pgvector": info.pgvector,
        "pgvector_available": info.pgvector_available,
        "current": status.current,
        "head": status.head,
        "pending": list(status.pending),
        "backups": [str(path) for path in status.backups],
    }
    state = (
        "up to date" if status.up_to_date else f"{plural(len(status.pending), 'migration')} pending"
    )
    schema = status.current or "empty"
    return CommandOutput(data=data, message=f"Schema {schema} on {info.label}: {state}.")


class MigrateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: str = Field(default="head", description="target revision")


@command(
    "db.upgrade",
    summary="Apply pending schema migrations (backed up first, restored on failure)",
    permission="db.migrate",
    risk=RiskLevel.WRITE,
    examples=(
        "upgrade the database",
        "run migrations",
        "apply the outstanding migrations",
        "migrate the database to head",
        "bring the schema up to date",
    ),
)
async def db_upgrade(ctx: CommandContext, args: MigrateArgs) -> CommandOutput:
    result = await ctx.run_in_thread(
        ctx.engine.migrator.upgrade,
        args.revision,
        what=f"upgrading the schema to {args.revision}",
        check=_SEE_SCHEMA,
    )
    applied = ", ".join(result.applied) or "nothing to apply"
    protected = f" Protected by {result.protection}." if result.protection else ""
    return CommandOutput(
        data={
            "from": result.from_revision,
            "to": result.to_revision,
            "applied": list(result.applied),
            "backup": str(result.backup) if result.backup else None,
            "protection": result.protection,
        },
        message=f"Schema at {result.to_revision}: {applied}.{protected}",
    )


class DowngradeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: str = Field(description="target revision, e.g. -1 or base")


@command(
    "db.downgrade",
    summary="Revert schema migrations to an earlier revision (backed up first)",
    permission="db.migrate",
    risk=RiskLevel.DANGER,
    examples=(
        "downgrade the database",
        "revert the last migration",
        "roll the schema back one revision",
        "undo a migration",
        "go back to the previous schema",
    ),
)
async def db_downgrade(ctx: CommandContext, args: DowngradeArgs) -> CommandOutput:
    result = await ctx.run_in_thread(
        ctx.engine.migrator.downgrade,
        args.revision,
        what=f"downgrading the schema to {args.revision}",
        check=_SEE_SCHEMA,
    )
    return CommandOutput(
        data={
            "from": result.from_revision,
            "to": result.to_revision,
            "reverted": list(result.applied),
            "backup": str(result.backup) if result.backup else None,
            "protection": result.protection,
        },
        message=f"Schema at {result.to_revision or 'base'}; backup at {result.backup}.",
    )


class BackupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path | None = Field(default=None, description="file to write; default .logomesh/backups")


@command(
    "db.backup",
    summary="Take a consistent backup of the database",
    permission="db.backup",
    risk=RiskLevel.WRITE,
    examples=(
        "back up the database",
        "make a database backup",
        "save a copy of the database",
        "take a snapshot of the db",
        "copy the database to a backup file",
    ),
)
async def db_backup(ctx: CommandContext, args: BackupArgs) -> CommandOutput:
    if args.path is not None and args.path.exists():
        raise BackupError(f"{args.path} already exists; choose a new file name.")
    path = await ctx.run_in_thread(
        ctx.engine.migrator.backup,
        args.path,
        what="copying the database",
        check="`logomesh db status` lists the backups",
        stoppable=True,
    )
    size = path.stat().st_size
    return CommandOutput(
        data={"path": str(path), "bytes": size},
        message=f"Backed up to {path} ({size} bytes).",
        target=str(path),
    )


class RestoreArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path = Field(description="backup file to restore")


@command(
    "db.restore",
    summary="Replace the database with a backup (the current one is backed up first)",
    permission="db.restore",
    risk=RiskLevel.DANGER,
    examples=(
        "restore the database from a backup",
        "put the old database back",
        "recover the database from a snapshot",
        "bring back the db from a backup file",
        "roll the database back to a saved copy",
    ),
)
async def db_restore(ctx: CommandContext, args: RestoreArgs) -> CommandOutput:
    migrator = ctx.engine.migrator
    migrator.require_restorable()  # PostgreSQL: says how to restore with pg_restore
    if not args.path.is_file():
        raise BackupError(f"{args.path} does not exist. `logomesh db status` lists backups.")
    safety = None
    current = ctx.engine.database
    if current.path and current.path.exists() and current.integrity_problem() is None:
        # Stoppable: at the deadline nothing has been replaced yet, and no file is left.
        safety = await ctx.run_in_thread(
            partial(migrator.backup, label="pre-restore"),
            None,
            what="saving the current database before the restore",
            stoppable=True,
        )
    await ctx.run_in_thread(
        migrator.restore,
        args.path,
        what=f"replacing the database with {args.path}",
        check=_SEE_SCHEMA,
    )
    note = f" The previous database was saved as {safety}." if safety else ""
    return CommandOutput(
        data={"restored_from": str(args.path), "previous": str(safety) if safety else None},
        message=f"Restored the database from {args.path}.{note}",
        target=str(args.path),
    )


class CopyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(
        description="URL of the empty database to copy into, "
        "e.g. postgresql+psycopg://db.example/logomesh"
    )


@command(
    "db.copy",
    summary="Copy this database, audit chain intact, into another, empty one (e.g. PostgreSQL)",
    permission="db.copy",
    risk=RiskLevel.WRITE,
    # A years-long trail over a slow link takes a while; the usual two minutes would stop
    # (and roll back) a copy that is doing fine.
    timeout_s=4 * 3600.0,
    examples=(
        "move the audit trail to the team's postgres",
        "copy the sqlite trail into postgresql",
        "transfer everything to the shared postgres server",
        "put the local trail into the team database",
    ),
)
async def db_copy(ctx: CommandContext, args: CopyArgs) -> CommandOutput:
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(args.to)
    except ArgumentError:
        raise InvalidArgumentsError(
            "`--to` is not a database URL; expected something like "
            "postgresql+psycopg://host/logomesh or sqlite:///path/to/copy.db."
        ) from None
    loop = asyncio.get_running_loop()
    reported: list[Future[None]] = []

    def report(message: str, fraction: float | None) -> None:  # called in the copy's thread
        reported.append(asyncio.run_coroutine_threadsafe(ctx.progress(message, fraction), loop))

    await ctx.run_in_thread(ctx.engine.ensure_schema, what="bringing the schema up to date")
    try:
        result, verified = await ctx.run_in_thread(
            partial(_copy_to, ctx, args.to, report),
            what="copying the database",
            check="the target holds every row or none; `logomesh db status` on it shows which",
            stoppable=True,
        )
    finally:
        # Every progress event is out before the command's result (and its record).
        await asyncio.gather(*map(asyncio.wrap_future, reported), return_exceptions=True)
    rows = {table.name: table.rows for table in result.tables}
    listed = ", ".join(f"{name} {count}" for name, count in rows.items() if count)
    return CommandOutput(
        data={
            "source": result.source,
            "target": result.target,
            "revision": result.revision,
            "rows": rows,
            "total_rows": result.rows,
            "skipped": list(result.skipped),
            "verified": verified.to_dict(),
        },
        message=(
            f"Copied {result.rows} rows ({listed or 'none'}) from {result.source} to "
            f"{result.target}, schema {result.revision}. Verified there: "
            f"{verified.summary()} Vectors were not copied: the embedding worker rebuilds them "
            "there (until then `audit search` uses the in-memory index). This command's own "
            "audit record stays in the source trail, which the copy now leaves behind: switch "
            "this workspace to the copy with `logomesh init --team URL`."
        ),
        target=result.target,
        audit_details={"source": result.source, "target": result.target, "rows": rows},
    )


def _copy_to(
    ctx: CommandContext,
    url: str,
    report: Callable[[str, float | None], None],
    stop: threading.Event,
) -> tuple[CopyResult, VerifyReport]:
    """The blocking copy, then ``audit verify`` of the copy against this workspace's signed
    checkpoints (before this command's own record can add one the copy does not have);
    the target's engine is opened and closed in this thread."""
    from logomesh.audit import verify_copy
    from logomesh.storage.copy import copy_database
    from logomesh.storage.database import Database
    from logomesh.storage.migrate import Migrator

    settings = ctx.engine.settings
    trail = ctx.engine.audit
    target = Database(url, busy_timeout_ms=settings.database.busy_timeout_ms)
    try:
        # A SQLite target with an old schema is backed up before its migration: in a folder
        # of its own, so that pruning those backups never removes this database's.
        keep = settings.database.keep_backups
        migrator = Migrator(target, settings.backup_dir / "copy-targets", keep_backups=keep)
        result = copy_database(ctx.engine.database, target, migrator, on_progress=report, stop=stop)
        verified = verify_copy(trail, target)
    finally:
        target.dispose()
    if not verified.ok:
        raise DatabaseCopyError(
            f"Copied {result.rows} rows to {result.target}, but the audit chain there does not "
            f"verify: {verified.summary()} The copy is committed; do not use it. Run `logomesh "
            "audit verify` here to see whether the source has the same problem, then drop and "
            "recreate the target database and copy again."
        )
    return result, verified
