"""Approval tickets in chat: the card with Approve / Decline, and what a click does.

A ticket is a row any process can read and decide (docs/approvals.md), so a card can show
a ticket raised in the editor, the CLI or a pipeline, and a click decides it for whoever
waits, wherever. The card shows what the engine stored: the command, its risk, the
*redacted* arguments, who asked and until when. A click goes through
:meth:`Engine.decide` as the clicker, which authorises them (``approvals.decide``),
applies the two-person rule and audits the decision or the refusal; the engine's message is
what the clicker is told when it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bots.chat.message import ButtonClick
from bots.chat.render import Block, Button, Buttons, ButtonStyle, Context, Fields, Reply, Text
from bots.chat.results import error_reply
from logomesh.errors import LogoMeshError

if TYPE_CHECKING:
    from logomesh.approvals.models import Ticket
    from logomesh.engine import Engine
    from logomesh.events import ApprovalRequested

APPROVE = "logomesh.approve"
DECLINE = "logomesh.decline"
ACTIONS = (APPROVE, DECLINE)

# Refusals after which the card itself is out of date, and is redrawn from the ticket.
_STALE_CARD = frozenset({"approval.expired", "approval.already_decided", "approval.altered"})
_SETTLED = {
    "approved": "✅ Approved",
    "declined": "🚫 Declined",
    "expired": "⌛ Expired",
    "cancelled": "⏹ Cancelled",
}


@dataclass(frozen=True, slots=True)
class TicketCard:
    """What a card shows of a ticket, from the event that announced it or the stored row."""

    ticket_id: str
    command: str
    risk: str
    requester: str
    arguments: Mapping[str, Any]
    expires_at: str
    separate_approver: bool

    @classmethod
    def from_event(cls, event: ApprovalRequested) -> TicketCard:
        return cls(
            event.ticket_id,
            event.command,
            event.risk,
            event.requester,
            event.arguments,
            event.expires_at,
            event.separate_approver,
        )

    @classmethod
    def from_ticket(cls, ticket: Mapping[str, Any]) -> TicketCard:
        """From a ticket as ``approvals.list`` / ``Ticket.to_dict`` give it."""
        return cls(
            str(ticket["id"]),
            str(ticket["command"]),
            str(ticket["risk"]),
            str(ticket["requester"]),
            dict(ticket.get("arguments") or {}),
            str(ticket["expires_at"]),
            bool(ticket.get("separate_approver")),
        )

    def fields(self) -> Fields:
        pairs = [
            ("Command", f"`{self.command}`"),
            ("Risk", self.risk),
            ("Requested by", self.requester),
            ("Expires", self.expires_at),
            ("Arguments", _arguments(self.arguments)),
            ("Ticket", f"`{self.ticket_id}`"),
        ]
        return Fields(tuple(pairs))


def card(ticket: TicketCard) -> Reply:
    """The card that asks: what would run, and the two buttons (value = the ticket id)."""
    blocks: list[Block] = [
        Text(f"🔐 *Approval needed*: `{ticket.command}` ({ticket.risk} risk)"),
        ticket.fields(),
    ]
    if ticket.separate_approver:
        blocks.append(
            Context(f"Two-person rule: someone other than {ticket.requester} must approve.")
        )
    blocks.append(
        Buttons(
            (
                Button("Approve", APPROVE, ticket.ticket_id, ButtonStyle.PRIMARY),
                Button("Decline", DECLINE, ticket.ticket_id, ButtonStyle.DANGER),
            )
        )
    )
    fallback = f"Approval needed: {ticket.command} ({ticket.risk} risk) for {ticket.requester}"
    return Reply(tuple(blocks), fallback)


def settled_card(ticket: TicketCard, state: str, by: str | None) -> Reply:
    """The card once decided: who decided, and no buttons any more."""
    said = _SETTLED.get(state, state.capitalize())
    who = f" by {by}" if by and state in ("approved", "declined") else ""
    headline = f"{said}{who}: `{ticket.command}` ({ticket.risk} risk)"
    blocks: list[Block] = [Text(headline), ticket.fields()]
    return Reply(tuple(blocks), f"{said}{who}: {ticket.command}")


@dataclass(frozen=True, slots=True)
class ClickAnswer:
    """What a click changes: the card (redrawn for everyone) and what only the clicker sees."""

    card: Reply | None = None
    whisper: Reply | None = None
    ticket_id: str | None = None
    # The ticket's state as the redrawn card shows it, and who decided it.
    state: str | None = None
    by: str | None = None


async def decide_click(engine: Engine, click: ButtonClick) -> ClickAnswer:
    """Decide the clicked ticket as the clicker, through ``Engine.decide``."""
    if click.action not in ACTIONS:
        message = f"This button ({click.action!r}) is not one of LogoMesh's approval buttons."
        return ClickAnswer(whisper=error_reply("Button", message, "chat.unknown_action"))
    if not click.value.strip():
        message = "This button names no approval ticket; list them with `approvals`."
        return ClickAnswer(whisper=error_reply("Button", message, "approval.unknown"))
    approve = click.action == APPROVE
    ticket_id = click.value.strip()
    try:
        ticket = await engine.decide(ticket_id, click.who.actor, approve, "clicked in chat")
    except LogoMeshError as exc:
        what = "Approve" if approve else "Decline"
        whisper = error_reply(what, _refusal(exc), exc.code)
        stored = await engine.approvals.current(ticket_id) if exc.code in _STALE_CARD else None
        if stored is None or not stored.state.final:
            return ClickAnswer(whisper=whisper, ticket_id=ticket_id)
        return _answer(stored, whisper)
    return _answer(ticket, None)


def _answer(ticket: Ticket, whisper: Reply | None) -> ClickAnswer:
    """The card as the ticket stands now (who decided it, or that it expired)."""
    decided = ticket.final_decision
    by = decided.approver if decided else None
    shown = TicketCard.from_ticket(ticket.to_dict())
    state = str(ticket.state)
    redrawn = settled_card(shown, state, by)
    return ClickAnswer(redrawn, whisper, ticket.id, state, by)


def _refusal(exc: LogoMeshError) -> str:
    message = exc.user_message
    if exc.code == "approval.two_person":
        return f"Someone else must approve this. {message}"
    return message


def _arguments(arguments: Mapping[str, Any]) -> str:
    if not arguments:
        return "(none)"
    shown = (f"{key}={_value(value)}" for key, value in arguments.items())
    return "`" + " ".join(shown) + "`"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
