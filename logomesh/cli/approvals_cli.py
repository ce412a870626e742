"""``logomesh approvals ...``: see the tickets waiting for a decision, and decide one.

A command that needs someone else's yes waits in the process that asked (``logomesh --wait
...``); another terminal, or any other adapter, approves or declines it here. Approving or
declining is itself the explicit act, so it is sent as confirmed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from logomesh.cli.session import JsonFlag, execute

app = typer.Typer(help="Approval tickets: requests waiting for a decision.", no_args_is_help=True)
TicketArg = Annotated[str, typer.Argument(help="The ticket id (from `logomesh approvals list`).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why; kept with the decision.")]


@app.command("list")
def list_tickets(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(help="Only this state: pending, approved, declined, expired, cancelled."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    json_output: JsonFlag = False,
) -> None:
    """List approval tickets, newest first (overdue ones show as expired)."""
    arguments: dict[str, Any] = {"limit": limit}
    if state is not None:
        arguments["state"] = state
    execute(ctx, "approvals.list", arguments, json_output=json_output)


@app.command()
def show(ctx: typer.Context, ticket: TicketArg, json_output: JsonFlag = False) -> None:
    """Show one ticket: command, redacted arguments, requester, state and decisions."""
    execute(ctx, "approvals.show", {"id": ticket}, json_output=json_output)


@app.command()
def approve(
    ctx: typer.Context, ticket: TicketArg, reason: ReasonOpt = None, json_output: JsonFlag = False
) -> None:
    """Approve a ticket: the waiting command runs in the process that asked for it."""
    _decide(ctx, "approvals.approve", ticket, reason, json_output)


@app.command()
def decline(
    ctx: typer.Context, ticket: TicketArg, reason: ReasonOpt = None, json_output: JsonFlag = False
) -> None:
    """Decline a ticket: the waiting command does not run."""
    _decide(ctx, "approvals.decline", ticket, reason, json_output)


def _decide(
    ctx: typer.Context, command: str, ticket: str, reason: str | None, json_output: bool
) -> None:
    arguments: dict[str, Any] = {"id": ticket}
    if reason is not None:
        arguments["reason"] = reason
    execute(ctx, command, arguments, json_output=json_output, yes=True)
