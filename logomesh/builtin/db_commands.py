"""Built-in commands over the database schema and its backups.

Their work blocks (SQLite, file copies, pg_dump), so it runs in threads through
:meth:`CommandContext.run_in_thread`, and a timeout says what became of it: a backup stops
at the deadline and leaves no file; a migration or a restore cannot be stopped part-way
and is reported as still running, with its outcome audited when it ends.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import BackupError
from logomesh.storage.backend import describe

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
    state = "up to date" if status.up_to_date else f"{len(status.pending)} migration(s) pending"
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
