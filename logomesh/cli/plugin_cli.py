"""``logomesh plugin ...``: list, start and stop plugins."""

from __future__ import annotations

from typing import Annotated

import typer

from logomesh.cli.session import JsonFlag, execute

app = typer.Typer(help="Plugins: Python, Node.js and MCP servers.", no_args_is_help=True)


@app.command("list")
def list_plugins(
    ctx: typer.Context,
    no_start: Annotated[
        bool, typer.Option("--no-start", help="Only read manifests; start nothing.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Show every plugin: runtime, version, state and error."""
    execute(ctx, "plugin.list", {"start": not no_start}, json_output=json_output)


@app.command()
def start(ctx: typer.Context, name: str, json_output: JsonFlag = False) -> None:
    """Start (or restart) a plugin."""
    execute(ctx, "plugin.start", {"name": name}, json_output=json_output, yes=True)


@app.command()
def stop(ctx: typer.Context, name: str, json_output: JsonFlag = False) -> None:
    """Stop a running plugin."""
    execute(ctx, "plugin.stop", {"name": name}, json_output=json_output, yes=True)
