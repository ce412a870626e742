"""The life of an approval ticket: opened, decided (by anyone, anywhere), expired, cancelled.

The service owns the rules that do not depend on who is asking: a ticket is decided once,
not after its expiry, not when it was altered, and never approved by its own requester
when the two-person rule applied. Authorisation (may this approver decide at all?) is the
engine's, passed in as a policy decision, and recorded with every outcome. Each state change
and each refused decision is an audit record under the ticket's correlation id, written
through the engine's one audit method.

The event loop never blocks here: every database call goes through ``asyncio.to_thread``.
A waiting request subscribes to its ticket on the store's change feed and re-reads the
ticket's row whenever it is woken: at once when another process settles it on PostgreSQL
(LISTEN/NOTIFY), every ``poll_s`` on SQLite, and at the ticket's expiry on either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from logomesh.approvals.models import (
    Ticket,
    TicketDecision,
    TicketRequest,
    TicketState,
    arguments_digest,
    seal_of,
)
from logomesh.approvals.store import ApprovalStore, now_text
from logomesh.audit import AuditEntry, AuditRecord
from logomesh.canonical import format_timestamp, parse_timestamp
from logomesh.commands.values import Identity, Outcome, RiskLevel, Source, new_id
from logomesh.errors import (
    LogoMeshError,
    PermissionDeniedError,
    TicketAlteredError,
    TicketDecidedError,
    TicketExpiredError,
    TwoPersonRuleError,
    UnknownTicketError,
)
from logomesh.events import ApprovalDecided, ApprovalRequested, EventBus
from logomesh.security.policy import Decision
from logomesh.security.redaction import redact
from logomesh.storage.change_feed import APPROVALS

RecordAudit = Callable[[AuditEntry], Awaitable[AuditRecord | None]]
DEFAULT_POLL_S = 0.05
_SYSTEM = "system"


class ApprovalService:
    def __init__(
        self,
        store: ApprovalStore,
        *,
        record_audit: RecordAudit,
        events: EventBus,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.store = store
        self._record_audit = record_audit
        self._events = events
        self.poll_s = poll_s

    # -- opening -----------------------------------------------------------------------

    async def open(self, request: TicketRequest) -> Ticket:
        """Write a pending ticket for ``request``, audit it and announce it."""
        created = datetime.now(UTC)
        fields: dict[str, Any] = {
            "id": new_id(),
            "correlation_id": request.correlation_id,
            "command": request.command,
            "arguments": redact(dict(request.arguments)),
            "arguments_digest": arguments_digest(request.arguments),
            "requester": request.requester,
            "requester_source": request.requester_source,
            "risk": request.risk,
            "created_at": format_timestamp(created),
            "expires_at": format_timestamp(created + timedelta(seconds=request.timeout_s)),
            "approvals_required": 1,
            "separate_approver": request.separate_approver,
        }
        ticket = Ticket(
            **fields,
            state=TicketState.PENDING,
            decided_at=None,
            seal=seal_of({**fields, "risk": str(request.risk)}),
        )
        await asyncio.to_thread(self.store.insert, ticket)
        await self._audit(ticket, "requested", ticket.requester, ticket.requester_source)
        await self._events.publish(
            ApprovalRequested(
                ticket.correlation_id,
                ticket.id,
                ticket.command,
                str(ticket.risk),
                ticket.requester,
                ticket.arguments,
                ticket.expires_at,
                ticket.separate_approver,
                request.parent_id,
            )
        )
        return ticket

    # -- deciding ----------------------------------------------------------------------

    async def decide(
        self,
        ticket_id: str,
        approver: Identity,
        approve: bool,
        reason: str | None = None,
        *,
        authorization: Decision | None,
        two_person: tuple[RiskLevel, ...] = (),
    ) -> Ticket:
        """Approve or decline a pending ticket; refusals raise and are audited.

        ``authorization`` is the engine's decision on the approver's permission; None means
        the requester is answering their own request (already authorised to make it).
        ``two_person`` is the rule as configured now (``security.two_person``), so a rule
        tightened after the ticket was opened still holds.
        """
        ticket: Ticket | None = None
        try:
            ticket = await self.current(ticket_id)
            if authorization is not None and not authorization.allowed:
                raise PermissionDeniedError(
                    f"{approver.name} may not decide approval tickets: {authorization.reason}."
                )
            ticket = _decidable(ticket, ticket_id)
            needs_another = ticket.separate_approver or ticket.risk in two_person
            if approve and needs_another and approver.name == ticket.requester:
                raise TwoPersonRuleError(
                    f"{ticket.command} is a {ticket.risk}-risk command and the two-person "
                    f"rule (`security.two_person`) applies: {approver.name} asked for it, "
                    f"so another approver must approve ticket {ticket.id} "
                    f"(`logomesh approvals approve {ticket.id}`)."
                )
            decision = TicketDecision(
                approver.name, str(approver.actor.source), approve, reason, now_text()
            )
            state = TicketState.APPROVED if approve else TicketState.DECLINED
            won = await asyncio.to_thread(
                self.store.settle, ticket.id, state, decision, unexpired_at=decision.decided_at
            )
            if not won:
                _decidable(await self.current(ticket.id), ticket.id)
                raise TicketExpiredError(_expired_message(ticket))  # lost to the clock
        except LogoMeshError as exc:
            await self._audit_refusal(ticket, ticket_id, approver, approve, exc, authorization)
            raise
        settled = replace(
            ticket, state=state, decided_at=decision.decided_at, decisions=(decision,)
        )
        details = {"reason": reason, "authorization": _authorization(authorization)}
        await self._audit(settled, str(state), approver.name, decision.source, details)
        await self._announce(settled, approver.name)
        return settled

    async def cancel(self, ticket: Ticket, why: str) -> bool:
        """Cancel a pending ticket (its request stopped waiting); False if already final."""
        if not await asyncio.to_thread(self.store.settle, ticket.id, TicketState.CANCELLED):
            return False
        cancelled = replace(ticket, state=TicketState.CANCELLED, decided_at=now_text())
        details = {"reason": why}
        await self._audit(
            cancelled, "cancelled", ticket.requester, ticket.requester_source, details
        )
        await self._announce(cancelled, ticket.requester)
        return True

    # -- waiting and reading -------------------------------------------------------------

    async def wait(self, ticket: Ticket) -> Ticket:
        """Until the ticket is decided (by any process) or expires; returns it settled."""
        expires = parse_timestamp(ticket.expires_at)
        # Subscribed before the first read: a decision between the two is not missed.
        async with self.store.feed.subscribe(APPROVALS, ticket.id) as changes:
            while True:
                state = await asyncio.to_thread(self.store.state_of, ticket.id)
                if state is None:
                    raise UnknownTicketError(
                        f"Approval ticket {ticket.id} disappeared while {ticket.command} "
                        "waited for it (was the database restored?); nothing was done."
                    )
                if state.final or now_text() >= ticket.expires_at:
                    settled = await self.current(ticket.id)
                    if settled is not None and settled.state.final:
                        return settled
                # Woken at the expiry too, however long the poll (on PostgreSQL, 5 s at least).
                until_expiry = (expires - datetime.now(UTC)).total_seconds()
                await changes.wait(self.poll_s, at_most=until_expiry if until_expiry > 0 else None)

    async def current(self, ticket_id: str) -> Ticket | None:
        """The ticket as stored now, expiring it first if it is overdue."""
        ticket = await asyncio.to_thread(self.store.get, ticket_id)
        overdue = ticket is not None and now_text() >= ticket.expires_at
        if ticket is not None and ticket.state is TicketState.PENDING and overdue:
            await self._expire(ticket)
            ticket = await asyncio.to_thread(self.store.get, ticket_id)
        return ticket

    async def list_tickets(self, state: TicketState | None = None, limit: int = 50) -> list[Ticket]:
        """Tickets newest first; overdue ones are expired (and audited) before listing."""
        for ticket_id in await asyncio.to_thread(self.store.overdue, now_text()):
            await self.current(ticket_id)
        return await asyncio.to_thread(self.store.list_tickets, state, limit)

    async def check_before_run(self, ticket: Ticket, arguments: Mapping[str, Any]) -> Ticket:
        """Re-read an approved ticket and refuse it unless it still matches ``arguments``.

        The requester's process holds the exact validated arguments, so it can check both
        the digest and the redacted copy, whatever happened to the row meanwhile.
        """
        stored = await asyncio.to_thread(self.store.get, ticket.id)
        expected_arguments = redact(dict(arguments))
        if (
            stored is None
            or not stored.intact
            or stored.arguments_digest != arguments_digest(arguments)
            or stored.arguments != expected_arguments
            or stored.command != ticket.command
        ):
            raise TicketAlteredError(
                f"Approval ticket {ticket.id} no longer matches the {ticket.command} request "
                "it was opened for (it was changed in the database); the command was not run. "
                "Ask for it again, and check who can write to the database."
            )
        return stored

    # -- helpers -------------------------------------------------------------------------

    async def _expire(self, ticket: Ticket) -> None:
        if await asyncio.to_thread(self.store.settle, ticket.id, TicketState.EXPIRED):
            expired = replace(ticket, state=TicketState.EXPIRED)
            await self._audit(expired, "expired", _SYSTEM, str(Source.SYSTEM))
            await self._announce(expired, None)

    async def _announce(self, ticket: Ticket, by: str | None) -> None:
        await self._events.publish(
            ApprovalDecided(
                ticket.correlation_id,
                ticket.id,
                str(ticket.state),
                by,
                ticket.command,
                str(ticket.risk),
                ticket.requester,
            )
        )

    async def _audit(
        self,
        ticket: Ticket,
        change: str,
        actor: str,
        source: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._record_audit(
            AuditEntry(
                actor=actor,
                source=Source(source),
                action=f"approval.{change}",
                outcome=Outcome.OK,
                target=ticket.id,
                arguments=ticket.arguments,
                correlation_id=ticket.correlation_id,
                details={**_summary(ticket), **(details or {})},
            )
        )

    async def _audit_refusal(
        self,
        ticket: Ticket | None,
        ticket_id: str,
        approver: Identity,
        approve: bool,
        exc: LogoMeshError,
        authorization: Decision | None,
    ) -> None:
        denied = isinstance(exc, PermissionDeniedError)
        details = {
            "ticket": ticket_id,
            "approve": approve,
            "authorization": _authorization(authorization),
        }
        await self._record_audit(
            AuditEntry(
                actor=approver.name,
                source=approver.actor.source,
                action="approval.decide",
                outcome=Outcome.DENIED if denied else Outcome.ERROR,
                target=ticket_id,
                error=f"[{exc.code}] {exc.user_message}",
                correlation_id=ticket.correlation_id if ticket else None,
                details={**(_summary(ticket) if ticket else {}), **details},
            )
        )


def _decidable(ticket: Ticket | None, ticket_id: str) -> Ticket:
    """The ticket, if a decision on it may be taken; else the error that says why not."""
    if ticket is None:
        raise UnknownTicketError(
            f"There is no approval ticket {ticket_id!r}. List the open ones with "
            "`logomesh approvals list`."
        )
    if not ticket.intact:
        raise TicketAlteredError(
            f"Approval ticket {ticket.id} was changed in the database after it was opened; "
            "it is refused and its command will not run. Ask the requester to run it again."
        )
    if ticket.state is TicketState.EXPIRED:
        raise TicketExpiredError(_expired_message(ticket))
    if ticket.state.final:
        settled = ticket.final_decision
        by = f" by {settled.approver} ({settled.source})" if settled else ""
        raise TicketDecidedError(
            f"Approval ticket {ticket.id} ({ticket.command}) was already {ticket.state}{by}; "
            "a ticket is decided once."
        )
    return ticket


def _expired_message(ticket: Ticket) -> str:
    return (
        f"Approval ticket {ticket.id} ({ticket.command}) expired at {ticket.expires_at}; "
        "nothing was run. The requester can ask again."
    )


def _summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket": ticket.id,
        "command": ticket.command,
        "risk": str(ticket.risk),
        "state": str(ticket.state),
        "requester": ticket.requester,
        "expires_at": ticket.expires_at,
        "separate_approver": ticket.separate_approver,
        "arguments_digest": ticket.arguments_digest,
    }


def _authorization(decision: Decision | None) -> dict[str, Any] | str:
    return decision.to_dict() if decision else "the requester, answering their own request"
