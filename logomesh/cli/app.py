"""The ``logomesh`` command line: the simplest adapter, and a new user's first contact.

Only typer is imported at module level: ``logomesh --help`` must stay fast, so the engine
(pydantic, SQLAlchemy, cryptography) is imported inside the commands that run it. Each
subcommand turns its flags into a command request; the engine does the rest.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main

from logomesh.cli import (
    approvals_cli,
    audit_cli,
    bot_cli,
    db_cli,
    llm_cli,
    pipeline_cli,
    plugin_cli,
    warm_cli,
    worker_cli,
)
from logomesh.cli.session import (
    CliState,
    JsonFlag,
    YesFlag,
    execute,
    fail,
    state_of,
)
from logomesh.commands.assignments import parse_assignments

if TYPE_CHECKING:
    from typer._click.core import Command  # typer 0.2x carries its own click

app = typer.Typer(
    name="logomesh",
    help="LogoMesh: your developer-operations companion. Start with `logomesh init`.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: rich's help renderer costs ~0.1 s, a third of our start-up budget.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cli.app, name="db")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(llm_cli.app, name="llm")
app.add_typer(plugin_cli.app, name="plugin")
app.add_typer(pipeline_cli.app, name="pipeline")
app.add_typer(approvals_cli.app, name="approvals")
app.add_typer(bot_cli.app, name="bot")
app.add_typer(worker_cli.app, name="worker")
app.add_typer(warm_cli.app, name="warm")
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.callback()
def main_options(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace root (default: found upward)."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Use this config file.")] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="local | team | readonly | offline")
    ] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", help="SQLAlchemy database URL.")] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="When a command needs someone's approval, wait for it (see approvals)."
        ),
    ] = False,
) -> None:
    flags: dict[str, Any] = {}
    if mode is not None:
        flags["mode"] = mode
    if db_url is not None:
        flags["database"] = {"url": db_url}
    ctx.obj = CliState(workspace=workspace, config_file=config, flags=flags, wait_for_approval=wait)


@app.command()
def init(
    ctx: typer.Context,
    team: Annotated[
        str | None,
        typer.Option(
            "--team",
            metavar="URL",
            help="Join the team's PostgreSQL (e.g. postgresql+psycopg://db.example/logomesh): "
            "check it, migrate it, write mode and URL (never its password) to logomesh.toml.",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Set up LogoMesh in this directory (safe to run again)."""
    state = state_of(ctx)
    if state.workspace is None:
        state.workspace = Path.cwd()
    if team is not None:
        # This process runs on the team's database, so init's own record starts its trail
        # there; the URL (password and all) stays in memory, the file gets it without one.
        state.flags["database"] = {**state.flags.get("database", {}), "url": team}
    arguments = {"team": True} if team is not None else None
    execute(ctx, "workspace.init", arguments, json_output=json_output, yes=True)


@app.command()
def trust(
    ctx: typer.Context,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Stop trusting it: its plugins and commands stay off.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Let this workspace's plugins and commands run, as they are now (a change asks again)."""
    state = state_of(ctx)
    state.show_notices = False  # the notice would only say to run this command
    execute(ctx, "workspace.trust", {"revoke": revoke}, json_output=json_output)


@app.command()
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show version, mode, database and audit trail state."""
    execute(ctx, "status", json_output=json_output)


@app.command()
def whoami(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show your identity, roles and permissions."""
    execute(ctx, "whoami", json_output=json_output)


@app.command("commands")
def list_commands(
    ctx: typer.Context,
    all_commands: Annotated[
        bool, typer.Option("--all", help="Include commands you may not run.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """List the commands you may run."""
    execute(ctx, "commands.list", {"all": all_commands}, json_output=json_output)


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run_command(
    ctx: typer.Context,
    command: Annotated[str, typer.Argument(help="Registered command name, e.g. audit.query.")],
    arguments: Annotated[
        list[str] | None, typer.Argument(help="Arguments as key=value (repeat a key for a list).")
    ] = None,
    args_json: Annotated[
        str | None, typer.Option("--args-json", help="All arguments as one JSON object.")
    ] = None,
    json_output: JsonFlag = False,
    yes: YesFlag = False,
) -> None:
    """Run any registered command: `logomesh run audit.query actor=alice limit=5`."""
    from logomesh.errors import LogoMeshError

    try:
        parsed = parse_assignments(list(arguments or []))
        if args_json:
            parsed |= _json_object(args_json)
    except LogoMeshError as exc:
        fail(exc.user_message, exc.code)
    execute(ctx, command, parsed, json_output=json_output, yes=yes)


@app.command("do")
def do_text(
    ctx: typer.Context,
    text: Annotated[list[str], typer.Argument(help="What you want, in your own words.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would run; run nothing.")
    ] = False,
    json_output: JsonFlag = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Confirm a write-risk proposal in advance; a danger-risk one always asks.",
        ),
    ] = False,
) -> None:
    """Say it in your own words: `logomesh do "what changed since main?"`."""
    from logomesh.cli.do_cli import run_text

    state = state_of(ctx)
    engine = state.engine()
    code = run_text(
        engine,
        " ".join(text),
        dry_run=dry_run,
        yes=yes,
        json_output=json_output,
        wait_for_approval=state.wait_for_approval,
    )
    state.say_if_set_up()
    raise typer.Exit(code)


@app.command()
def shell(ctx: typer.Context) -> None:
    """Interactive prompt with history and completion (prints status when not a terminal)."""
    from logomesh.cli.shell import run_shell

    raise typer.Exit(run_shell(ctx))


@config_app.command("show")
def config_show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Print every effective setting and where it came from (secrets masked)."""
    execute(ctx, "config.show", json_output=json_output)


def _json_object(text: str) -> dict[str, Any]:
    import json

    from logomesh.errors import InvalidArgumentsError

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentsError(f"--args-json is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise InvalidArgumentsError("--args-json must be a JSON object, e.g. '{\"limit\": 5}'.")
    return value


@app.command(
    "lsp",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def lsp(ctx: typer.Context) -> None:
    """Run the language server for editors (stdio; --tcp HOST:PORT; --help for more).

    The console script sends `logomesh lsp` to the server before this app loads
    (logomesh.cli.entry); this command serves `logomesh --workspace X lsp` and the help."""
    raise typer.Exit(_run_lsp(list(ctx.args)))


def _run_lsp(argv: list[str]) -> int:
    from lsp_server.__main__ import main as lsp_main

    return lsp_main(argv)


@functools.cache
def click_command() -> Command:
    """The click command tree typer builds from the app on every call (0.2 s of inspecting
    signatures): built once, so a warm process's children start with it built."""
    return typer.main.get_command(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
