"""``logomesh db ...``: schema status, migrations, backups, restores and copies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logomesh.cli.session import JsonFlag, YesFlag, execute

app = typer.Typer(help="Database schema, migrations, backups and copies.", no_args_is_help=True)


@app.command()
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show the backend and its version (pgvector too), the schema revision and backups."""
    execute(ctx, "db.status", json_output=json_output, auto_migrate=False)


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    json_output: JsonFlag = False,
) -> None:
    """Apply pending migrations (backed up first, restored if one fails)."""
    execute(ctx, "db.upgrade", {"revision": revision}, json_output=json_output, auto_migrate=False)


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    json_output: JsonFlag = False,
    yes: YesFlag = False,
) -> None:
    """Revert migrations (danger: asks first; backed up first)."""
    execute(
        ctx,
        "db.downgrade",
        {"revision": revision},
        json_output=json_output,
        yes=yes,
        auto_migrate=False,
    )


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="File to write.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Take a consistent backup (default: .logomesh/backups/)."""
    execute(ctx, "db.backup", {"path": path}, json_output=json_output)


@app.command()
def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Backup file to restore.")],
    json_output: JsonFlag = False,
    yes: YesFlag = False,
) -> None:
    """Replace the database with a backup (danger: asks first)."""
    execute(ctx, "db.restore", {"path": path}, json_output=json_output, yes=yes)


@app.command("copy")
def copy_to(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="URL of an empty database, e.g. postgresql+psycopg://db.example/logomesh "
            "(give its password through PGPASSWORD or ~/.pgpass, not here).",
        ),
    ],
    json_output: JsonFlag = False,
) -> None:
    """Copy this database, audit chain intact, into another, empty one (e.g. PostgreSQL)."""
    execute(ctx, "db.copy", {"to": to}, json_output=json_output)
