"""The ``approvals.*`` commands: list and show tickets, approve or decline one.

They run through the one door like any command, so the caller is authorised and audited;
approving and declining then go through ``Engine.decide``, which authorises the approver
again and records the decision under the ticket's correlation id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logomesh.approvals.models import (
    DECIDE_PERMISSION,
    READ_PERMISSION,
    Ticket,
    TicketState,
)
from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import UnknownTicketError
from logomesh.plural import plural


class ListArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: TicketState | None = Field(default=None, description="only tickets in this state")
    limit: int = Field(default=50, ge=1, le=1000)


class TicketArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, description="the ticket id")


class DecideArgs(TicketArgs):
    reason: str | None = Field(default=None, max_length=2000)


@command(
    "approvals.list",
    summary="List approval tickets: requests waiting for a person's decision, and past ones",
    permission=READ_PERMISSION,
    risk=RiskLevel.READ,
    examples=(
        "which approvals are waiting",
        "list approval tickets",
        "what needs my approval",
        "show pending approval requests",
    ),
)
async def approvals_list(ctx: CommandContext, args: ListArgs) -> CommandOutput:
    tickets = await ctx.engine.approvals.list_tickets(args.state, args.limit)
    pending = sum(1 for ticket in tickets if ticket.state is TicketState.PENDING)
    return CommandOutput(
        data=[ticket.to_dict() for ticket in tickets],
        message=f"{plural(len(tickets), 'approval ticket')}, {pending} pending.",
    )


@command(
    "approvals.show",
    summary="Show one approval ticket: command, redacted arguments, state and decisions",
    permission=READ_PERMISSION,
    risk=RiskLevel.READ,
    examples=("show approval ticket", "details of an approval request"),
)
async def approvals_show(ctx: CommandContext, args: TicketArgs) -> CommandOutput:
    ticket = await ctx.engine.approvals.current(args.id)
    if ticket is None:
        raise UnknownTicketError(
            f"There is no approval ticket {args.id!r}. List them with `logomesh approvals list`."
        )
    return CommandOutput(data=ticket.to_dict(), message=_describe(ticket), target=ticket.id)


@command(
    "approvals.approve",
    summary="Approve an approval ticket, so the waiting command runs",
    permission=DECIDE_PERMISSION,
    risk=RiskLevel.WRITE,
    examples=("approve the request", "approve approval ticket"),
)
async def approvals_approve(ctx: CommandContext, args: DecideArgs) -> CommandOutput:
    return await _decide(ctx, args, approve=True)


@command(
    "approvals.decline",
    summary="Decline an approval ticket, so the waiting command does not run",
    permission=DECIDE_PERMISSION,
    risk=RiskLevel.WRITE,
    examples=("decline the request", "reject approval ticket"),
)
async def approvals_decline(ctx: CommandContext, args: DecideArgs) -> CommandOutput:
    return await _decide(ctx, args, approve=False)


async def _decide(ctx: CommandContext, args: DecideArgs, *, approve: bool) -> CommandOutput:
    """The caller's decision, through ``Engine.decide`` as whoever the request came from."""
    ticket = await ctx.engine.decide(args.id, ctx.request.actor, approve, args.reason)
    effect = "runs in the requester's process" if approve else "will not run"
    verb = "Approved" if approve else "Declined"
    return CommandOutput(
        data=ticket.to_dict(),
        message=f"{verb} ticket {ticket.id}: {ticket.command} {effect}.",
        target=ticket.id,
    )


def _describe(ticket: Ticket) -> str:
    decided = ticket.final_decision
    by = f" by {decided.approver} ({decided.source})" if decided else ""
    return (
        f"Ticket {ticket.id}: {ticket.command} ({ticket.risk} risk) asked by "
        f"{ticket.requester}, {ticket.state}{by}; expires {ticket.expires_at}."
    )
