"""``logomesh plugin ...``: list, start, stop, stats and doctor; new and check to write one."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from logomesh.cli.session import EXIT_ERROR, JsonFlag, execute

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


def _by_name(command: str, description: str) -> None:
    """``logomesh plugin VERB NAME``: one subcommand per state change, all alike."""

    def change(ctx: typer.Context, name: str, json_output: JsonFlag = False) -> None:
        execute(ctx, command, {"name": name}, json_output=json_output, yes=True)

    change.__doc__ = description
    app.command(command.split(".", 1)[1])(change)


for _command, _description in (
    ("plugin.start", "Start (or restart) a plugin."),
    ("plugin.stop", "Stop a running plugin."),
    ("plugin.enable", "Enable a disabled plugin and start it."),
    ("plugin.disable", "Stop a plugin and keep it off."),
    ("plugin.reload", "Re-read a plugin's manifest and restart it."),
):
    _by_name(_command, _description)


@app.command()
def stats(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One plugin; default every plugin.")] = None,
    start: Annotated[
        bool, typer.Option("--start", help="Start the plugin(s) first (a CLI run has none).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """CPU, memory (whole process tree), calls, errors, latency, restarts and uptime.

    Figures cover the plugins this process runs: from a one-off CLI run, use --start to see
    their idle cost; in `logomesh shell` or a server, their use so far.
    """
    arguments: dict[str, Any] = {"start": start} | ({"name": name} if name else {})
    execute(ctx, "plugin.stats", arguments, json_output=json_output)


@app.command()
def doctor(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Which sandbox protections are active on this machine, and why the others are not."""
    execute(ctx, "plugin.doctor", json_output=json_output)


class Runtime(StrEnum):  # what `plugin new` can write (logomesh.plugins.scaffold)
    python = "python"
    node = "node"


@app.command()
def new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits and '-'.")],
    runtime: Annotated[Runtime, typer.Option("--runtime", "-r")] = Runtime.python,
    directory: Annotated[
        str, typer.Option("--dir", help="Where to create it, relative to the workspace.")
    ] = "plugins",
    json_output: JsonFlag = False,
) -> None:
    """Create a working plugin (manifest, program, test) to start from."""
    arguments = {"name": name, "runtime": runtime.value, "dir": directory}
    execute(ctx, "plugin.new", arguments, json_output=json_output, yes=True)


@app.command()
def check(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The plugin's folder (or its manifest).")],
    timeout: Annotated[float, typer.Option("--timeout", help="Longest wait per call (s).")] = 10.0,
    json_output: JsonFlag = False,
) -> None:
    """Validate a plugin: manifest, start, tools against the manifest, one call each.

    Exits with status 1 when the check finds a problem, so it can gate CI.
    """
    arguments = {"path": str(path.expanduser().resolve()), "timeout_s": timeout}
    result = execute(ctx, "plugin.check", arguments, json_output=json_output)
    if isinstance(result.data, dict) and not result.data.get("passed", True):
        raise typer.Exit(EXIT_ERROR)
