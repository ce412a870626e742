"""Reading and changing the approval tables of one database.

Every change of a ticket's state is one conditional ``UPDATE ... WHERE state = 'pending'``:
when two approvers in two processes decide at the same moment, the database lets exactly one
update match, and the other learns it lost from the row count, whatever the dialect. The
decision row is inserted in the same transaction, so a lost race leaves no trace but the
refusal the service records. A won change is announced on the change feed in that same
transaction too, so the waiting request (in whichever process) wakes when it commits.

These methods block (they are SQLAlchemy calls); the service runs them off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from logomesh.approvals.models import Ticket, TicketDecision, TicketState, stored_arguments
from logomesh.canonical import format_timestamp
from logomesh.commands.values import RiskLevel, new_id
from logomesh.errors import TicketAlteredError
from logomesh.storage.change_feed import APPROVALS, ChangeFeed, PollingFeed
from logomesh.storage.database import Database
from logomesh.storage.tables import approval_decisions, approval_tickets


def now_text() -> str:
    return format_timestamp(datetime.now(UTC))


class ApprovalStore:
    """The tickets and decisions of one database."""

    def __init__(
        self,
        db: Database,
        *,
        prepare: Callable[[], None] | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        self.db = db
        # Wakes the requests waiting on a ticket when it settles (what the service awaits).
        self.feed: ChangeFeed = feed or PollingFeed()
        # Readies the schema first (the engine's migrations), as the audit trail does.
        self._prepare = prepare or (lambda: None)

    # -- writing -----------------------------------------------------------------------

    def insert(self, ticket: Ticket) -> None:
        self._prepare()
        row = {**ticket.sealed_fields, "state": str(ticket.state), "seal": ticket.seal}
        row["arguments"] = stored_arguments(ticket.arguments)
        row["decided_at"] = ticket.decided_at
        with self.db.transaction() as conn:
            conn.execute(insert(approval_tickets), row)

    def settle(
        self,
        ticket_id: str,
        state: TicketState,
        decision: TicketDecision | None = None,
        *,
        unexpired_at: str | None = None,
    ) -> bool:
        """Move a pending ticket to ``state``; False when it was no longer pending.

        With ``unexpired_at`` the change only happens if the ticket has not expired by then
        (a decision); expiring and cancelling pass None.
        """
        self._prepare()
        stamp = decision.decided_at if decision else now_text()
        statement = (
            update(approval_tickets)
            .where(
                approval_tickets.c.id == ticket_id,
                approval_tickets.c.state == str(TicketState.PENDING),
            )
            .values(state=str(state), decided_at=stamp)
        )
        if unexpired_at is not None:
            statement = statement.where(approval_tickets.c.expires_at > unexpired_at)
        with self.db.transaction() as conn:
            won = conn.execute(statement).rowcount == 1
            if won and decision is not None:
                conn.execute(
                    insert(approval_decisions),
                    {"id": new_id(), "ticket_id": ticket_id, **decision.to_dict()},
                )
            if won:
                self.feed.announce(conn, APPROVALS, ticket_id)
        return won

    def overdue(self, now: str) -> list[str]:
        """Ids of pending tickets past their expiry (a read: cheap when there are none)."""
        self._prepare()
        statement = select(approval_tickets.c.id).where(
            approval_tickets.c.state == str(TicketState.PENDING),
            approval_tickets.c.expires_at <= now,
        )
        with self.db.read() as conn:
            return list(conn.execute(statement).scalars())

    # -- reading -----------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        self._prepare()
        with self.db.read() as conn:
            row = (
                conn.execute(select(approval_tickets).where(approval_tickets.c.id == ticket_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            return _ticket(row, _decisions(conn, [ticket_id]).get(ticket_id, ()))

    def state_of(self, ticket_id: str) -> TicketState | None:
        """Only the state: what a waiting request reads each time it wakes."""
        self._prepare()
        statement = select(approval_tickets.c.state).where(approval_tickets.c.id == ticket_id)
        with self.db.read() as conn:
            value = conn.execute(statement).scalar()
        return TicketState(value) if value is not None else None

    def list_tickets(self, state: TicketState | None = None, limit: int = 50) -> list[Ticket]:
        """Tickets newest first, optionally only those in ``state``."""
        self._prepare()
        statement = select(approval_tickets).order_by(approval_tickets.c.created_at.desc())
        if state is not None:
            statement = statement.where(approval_tickets.c.state == str(state))
        with self.db.read() as conn:
            rows = list(conn.execute(statement.limit(limit)).mappings())
            decisions = _decisions(conn, [row["id"] for row in rows])
        return [_ticket(row, decisions.get(row["id"], ())) for row in rows]


def _decisions(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[TicketDecision, ...]]:
    if not ids:
        return {}
    statement = (
        select(approval_decisions)
        .where(approval_decisions.c.ticket_id.in_(list(ids)))
        .order_by(approval_decisions.c.decided_at)
    )
    found: dict[str, list[TicketDecision]] = {}
    for row in conn.execute(statement).mappings():
        found.setdefault(row["ticket_id"], []).append(
            TicketDecision(
                row["approver"],
                row["source"],
                bool(row["approve"]),
                row["reason"],
                row["decided_at"],
            )
        )
    return {key: tuple(value) for key, value in found.items()}


def _ticket(row: RowMapping, decisions: tuple[TicketDecision, ...]) -> Ticket:
    try:
        arguments = json.loads(row["arguments"])
        risk = RiskLevel(row["risk"])
        state = TicketState(row["state"])
    except ValueError as exc:
        raise TicketAlteredError(
            f"Approval ticket {row['id']} has been altered in the database ({exc}); it is "
            "refused. Ask for the command again."
        ) from None
    return Ticket(
        id=row["id"],
        correlation_id=row["correlation_id"],
        command=row["command"],
        arguments=arguments if isinstance(arguments, dict) else {"unreadable": arguments},
        arguments_digest=row["arguments_digest"],
        requester=row["requester"],
        requester_source=row["requester_source"],
        risk=risk,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        approvals_required=int(row["approvals_required"]),
        separate_approver=bool(row["separate_approver"]),
        state=state,
        decided_at=row["decided_at"],
        seal=row["seal"],
        decisions=decisions,
    )
