"""Approval tickets and decisions as typed values, and the digests that bind them.

A ticket stands for one request that needs a person's yes before it runs. It keeps the
*redacted* arguments (what an approver is shown) and the SHA-256 of the canonical JSON of
the exact validated arguments (what the requester's process checks before it runs), never
the arguments themselves: those stay in the process that asked. The ``seal`` covers every
field fixed at creation, so a row changed behind the engine's back is refused by any
process that reads it, even one that never saw the arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from logomesh.canonical import canonical_bytes, canonical_json, sha256_hex
from logomesh.commands.values import RiskLevel

#: The permission an approver needs, whichever adapter they answer through.
DECIDE_PERMISSION = "approvals.decide"
#: The permission to list and show tickets.
READ_PERMISSION = "approvals.read"


class TicketState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self is not TicketState.PENDING


@dataclass(frozen=True, slots=True)
class TicketDecision:
    """One person's answer on a ticket, and the adapter it came through."""

    approver: str
    source: str
    approve: bool
    reason: str | None
    decided_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "source": self.source,
            "approve": self.approve,
            "reason": self.reason,
            "decided_at": self.decided_at,
        }


@dataclass(frozen=True, slots=True)
class Ticket:
    """A stored approval ticket, with the decisions made on it so far."""

    id: str
    correlation_id: str
    command: str
    arguments: dict[str, Any]
    arguments_digest: str
    requester: str
    requester_source: str
    risk: RiskLevel
    created_at: str
    expires_at: str
    approvals_required: int
    # True when the two-person rule applied at creation: the requester may not approve.
    separate_approver: bool
    state: TicketState
    decided_at: str | None
    seal: str
    decisions: tuple[TicketDecision, ...] = ()

    @property
    def sealed_fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "correlation_id": self.correlation_id,
            "command": self.command,
            "arguments": self.arguments,
            "arguments_digest": self.arguments_digest,
            "requester": self.requester,
            "requester_source": self.requester_source,
            "risk": str(self.risk),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "approvals_required": self.approvals_required,
            "separate_approver": self.separate_approver,
        }

    @property
    def intact(self) -> bool:
        """False when a sealed field was changed after the ticket was written."""
        return seal_of(self.sealed_fields) == self.seal

    @property
    def final_decision(self) -> TicketDecision | None:
        """The decision that settled the ticket (None while pending, expired or cancelled)."""
        return self.decisions[-1] if self.decisions else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.sealed_fields,
            "state": str(self.state),
            "decided_at": self.decided_at,
            "decisions": [decision.to_dict() for decision in self.decisions],
        }


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """What the engine knows when it opens a ticket for one request."""

    correlation_id: str
    command: str
    risk: RiskLevel
    # The validated arguments, as JSON values; only their digest and redaction are stored.
    arguments: Mapping[str, Any]
    requester: str
    requester_source: str
    separate_approver: bool
    timeout_s: float
    # The request's parent (a pipeline step's run), announced with the ticket, not stored.
    parent_id: str | None = None


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the exact validated arguments."""
    return sha256_hex(canonical_bytes(dict(arguments)))


def seal_of(fields: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_bytes(dict(fields)))


def stored_arguments(redacted: Mapping[str, Any]) -> str:
    """The text a ticket's arguments are stored as (canonical, so it compares exactly)."""
    return canonical_json(dict(redacted))
