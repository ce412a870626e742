"""The CLI's side of the one door: build the engine from global flags, run, map errors.

Every CLI command ends in :func:`execute`, which sends a ``CommandRequest`` to the engine
with the terminal as the confirmer, renders the result, and sets the exit code. Errors that
happen before the engine exists (a bad config file) are mapped in :func:`fail`, the CLI's
one error-mapping function.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from logomesh.cli.sync import run_sync

if TYPE_CHECKING:
    from logomesh.commands.models import CommandResult, ConfirmationRequest
    from logomesh.engine import Engine
    from logomesh.events import ApprovalRequested

# Flags every result-printing command shares.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
YesFlag = Annotated[
    bool, typer.Option("--yes", "-y", help="Confirm this command in advance (skip the prompt).")
]

# Exit codes scripts can rely on.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_CANCELLED, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5
_EXIT_BY_CODE = {
    "command.unknown": EXIT_USAGE,
    "command.invalid_arguments": EXIT_USAGE,
    "config.invalid": EXIT_USAGE,
    "config.parse": EXIT_USAGE,
    "config.trust": EXIT_USAGE,
    "command.denied": EXIT_DENIED,
    "command.cancelled": EXIT_CANCELLED,
    "pipeline.cancelled": EXIT_CANCELLED,
    "command.timeout": EXIT_TIMEOUT,
    "command.timeout_still_running": EXIT_TIMEOUT,
    "approval.two_person": EXIT_DENIED,
}


@dataclass
class CliState:
    """Global flags, kept until a command needs the engine (built once, lazily)."""

    workspace: Path | None = None
    config_file: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    # --wait: a command that needs an approver waits for a decision from anywhere.
    wait_for_approval: bool = False
    # Notices from loading settings (an untrusted workspace) go to stderr, once per process.
    show_notices: bool = True
    # The state folder when it did not exist before this process: its first command makes it.
    new_state_dir: Path | None = None
    _engine: Engine | None = None

    def engine(self, *, auto_migrate: bool | None = None) -> Engine:
        if self._engine is None:
            from logomesh.composition import build_engine
            from logomesh.config import load_settings
            from logomesh.errors import LogoMeshError

            try:
                loaded = load_settings(self.workspace, self.flags, config_file=self.config_file)
                for notice in loaded.notices if self.show_notices else ():
                    typer.echo(f"Note: {notice}", err=True)
                if not loaded.settings.state_dir.exists():
                    self.new_state_dir = loaded.settings.state_dir
                self._engine = build_engine(
                    loaded.settings, provenance=loaded.provenance, auto_migrate=auto_migrate
                )
            except LogoMeshError as exc:
                fail(exc.user_message, exc.code)
        return self._engine

    def say_if_set_up(self) -> None:
        """One line on stderr when this process created the workspace's state folder.

        The engine makes it complete (database, audit trail, ``.gitignore``), so nothing is
        half set up; what only ``logomesh init`` does (logomesh.toml, trusting the
        workspace) is named, and the folder, so a command run in the wrong directory shows.
        """
        made, self.new_state_dir = self.new_state_dir, None
        if made is None or not made.is_dir():
            return
        typer.echo(
            f"Note: {made.parent} was not a LogoMesh workspace, so this command set up its "
            f"state in {made}/ (database and audit trail, git-ignored). Run `logomesh init` "
            "there to finish (logomesh.toml, trust), or pass --workspace DIR to use another.",
            err=True,
        )


def state_of(ctx: typer.Context) -> CliState:
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    return state


class TerminalConfirmer:
    """Asks a yes/no question on the terminal; the default answer is no."""

    async def confirm(self, request: ConfirmationRequest) -> bool:
        return typer.confirm(request.prompt, default=False, err=True)


def terminal_confirmer() -> TerminalConfirmer | None:
    """None without a terminal, so the engine says how to confirm in advance (--yes)."""
    return TerminalConfirmer() if sys.stdin.isatty() else None


def execute(
    ctx: typer.Context,
    command: str,
    arguments: dict[str, Any] | None = None,
    *,
    json_output: bool = False,
    yes: bool = False,
    auto_migrate: bool | None = None,
) -> CommandResult:
    """Run one command through the engine, render it, and exit non-zero on failure."""
    result = run_quietly(ctx, command, arguments, yes=yes, auto_migrate=auto_migrate)
    from logomesh.cli.render import render_result

    render_result(result, json_output=json_output)
    if command != "workspace.init":  # init's own message says what it created
        state_of(ctx).say_if_set_up()
    if not result.ok:
        code = result.error.code if result.error else ""
        raise typer.Exit(_EXIT_BY_CODE.get(code, EXIT_ERROR))
    return result


def run_quietly(
    ctx: typer.Context,
    command: str,
    arguments: dict[str, Any] | None = None,
    *,
    yes: bool = False,
    auto_migrate: bool | None = None,
) -> CommandResult:
    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor, Source

    state = state_of(ctx)
    engine = state.engine(auto_migrate=auto_migrate)
    request = CommandRequest(
        command,
        Actor(Source.CLI, getpass.getuser()),
        arguments or {},
        confirmed=yes,
        wait_for_approval=state.wait_for_approval,
    )
    if not state.wait_for_approval:
        return run_sync(engine, request, terminal_confirmer())
    from logomesh.events import ApprovalRequested

    unsubscribe = engine.events.subscribe(ApprovalRequested, _say_waiting)
    try:
        return run_sync(engine, request, terminal_confirmer())
    finally:
        unsubscribe()


def _say_waiting(event: ApprovalRequested) -> None:
    typer.echo(
        f"Approval ticket {event.ticket_id} opened for {event.command} (expires "
        f"{event.expires_at}). If it waits, another approver can run: "
        f"logomesh approvals approve {event.ticket_id}",
        err=True,
    )


def exit_code_for(result: CommandResult) -> int:
    if result.ok:
        return EXIT_OK
    return _EXIT_BY_CODE.get(result.error.code if result.error else "", EXIT_ERROR)


def fail(message: str, code: str = "logomesh.error") -> NoReturn:
    """The CLI's one error mapping: a message on stderr and a stable exit code."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(_EXIT_BY_CODE.get(code, EXIT_ERROR))
