"""The confirmation step of the one door: from "this needs a yes" to an approved ticket.

When a command needs confirmation the request gets a durable ticket. Who may answer it:

* the requester, at once: ``CommandRequest.confirmed`` (``--yes``) or the adapter's
  :class:`Confirmer` (the terminal prompt), recorded as the requester's decision on the
  ticket, so the audit trail names who said yes;
* anyone with ``approvals.decide``, from any adapter and any process, through
  ``Engine.decide``, while the request waits (``CommandRequest.wait_for_approval``).

Under the two-person rule (``security.two_person`` holds the command's risk) the requester's
own yes does not count, so the request must wait for someone else. A request that can
neither be answered now nor wait fails at once, before any ticket is written: that is the
CLI without a terminal, told to pass ``--yes`` or ``--wait``.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logomesh.approvals.models import Ticket, TicketRequest, TicketState
from logomesh.approvals.service import ApprovalService
from logomesh.commands.models import CommandRequest, CommandSpec, ConfirmationRequest, Confirmer
from logomesh.commands.values import Identity, RiskLevel
from logomesh.errors import (
    ConfirmationDeclinedError,
    LogoMeshError,
    StorageError,
    TicketDecidedError,
)
from logomesh.security.redaction import redact

if TYPE_CHECKING:
    from logomesh.config import SecuritySettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Approval:
    """How a request got its yes, for the audit record of the command itself."""

    ticket: str | None
    by: str
    source: str
    how: str
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        shown = {"ticket": self.ticket, "state": "approved", "by": self.by}
        shown |= {"source": self.source, "how": self.how}
        optional = {"reason": self.reason, "note": self.note}
        return shown | {key: value for key, value in optional.items() if value}


class ApprovalGate:
    def __init__(self, service: Callable[[], ApprovalService], security: SecuritySettings) -> None:
        # A callable: the failing-fast path must not open the database at all.
        self._service = service
        self._security = security

    async def confirm(
        self,
        spec: CommandSpec,
        identity: Identity,
        request: CommandRequest,
        arguments: Mapping[str, Any],
        confirmer: Confirmer | None,
        *,
        details: dict[str, Any],
    ) -> Approval:
        """Return the approval, or raise; ``details["confirmation"]`` says what happened."""
        two_person = spec.risk in self._security.two_person
        own_answer = not two_person and (request.confirmed or confirmer is not None)
        if not own_answer and not request.wait_for_approval:
            details["confirmation"] = {"state": "not asked", "how": _NOT_ASKED}
            raise ConfirmationDeclinedError(
                _cannot_ask(spec, identity, two_person, request, arguments)
            )
        ticket_request = TicketRequest(
            correlation_id=request.correlation_id,
            command=spec.name,
            risk=spec.risk,
            arguments=arguments,
            requester=identity.name,
            requester_source=str(request.actor.source),
            separate_approver=two_person,
            timeout_s=self._security.approval_timeout_s,
            parent_id=request.parent_id,
        )
        service = self._service()
        try:
            ticket = await service.open(ticket_request)
        except StorageError as exc:
            if not own_answer:
                raise
            # The requester's own yes needs no durable ticket: say so, and go on.
            note = f"no approval ticket could be stored: {exc.user_message}"
            return await self._answer_without_ticket(
                spec, identity, request, arguments, confirmer, note, details
            )
        answered_here = False
        try:
            if own_answer:
                ticket, answered_here = await self._own_answer(
                    service, ticket, spec, identity, request, confirmer
                )
            if ticket.state is TicketState.PENDING:
                ticket = await service.wait(ticket)
        except BaseException:
            await _cancel_quietly(service, ticket)
            raise
        approval = _settled(spec, ticket, answered_here, details)
        await service.check_before_run(ticket, arguments)
        return approval

    async def _own_answer(
        self,
        service: ApprovalService,
        ticket: Ticket,
        spec: CommandSpec,
        identity: Identity,
        request: CommandRequest,
        confirmer: Confirmer | None,
    ) -> tuple[Ticket, bool]:
        """The requester's own decision; the flag is False when another adapter's came first."""
        if request.confirmed or confirmer is None:
            decided = await service.decide(
                ticket.id, identity, True, _IN_ADVANCE, authorization=None
            )
            return decided, True
        question = ConfirmationRequest(
            spec.name, spec.summary, spec.risk, ticket.arguments, identity.name, ticket.id
        )
        answer = await confirmer.confirm(question)
        # A prompt that lost the race (the ticket was decided from another adapter while it
        # was open, and the confirmer returned for that) has nothing to decide: deciding
        # anyway would audit a refused "already decided" decision nobody made.
        settled = await service.current(ticket.id)
        if settled is not None and settled.state is not TicketState.PENDING:
            return settled, False
        try:
            decided = await service.decide(
                ticket.id, identity, answer, _PROMPT if answer else None, authorization=None
            )
            return decided, True
        except TicketDecidedError:
            # Someone decided through another adapter while the prompt was open: theirs won.
            settled = await service.current(ticket.id)
            return (settled if settled is not None else ticket), False

    async def _answer_without_ticket(
        self,
        spec: CommandSpec,
        identity: Identity,
        request: CommandRequest,
        arguments: Mapping[str, Any],
        confirmer: Confirmer | None,
        note: str,
        details: dict[str, Any],
    ) -> Approval:
        source = str(request.actor.source)
        if request.confirmed or confirmer is None:
            approval = Approval(None, identity.name, source, _IN_ADVANCE, note)
        else:
            shown = redact(dict(arguments))
            question = ConfirmationRequest(spec.name, spec.summary, spec.risk, shown, identity.name)
            if not await confirmer.confirm(question):
                details["confirmation"] = {"state": "declined", "by": identity.name, "note": note}
                raise ConfirmationDeclinedError(_NOT_CONFIRMED.format(spec.name))
            approval = Approval(None, identity.name, source, _PROMPT, note)
        details["confirmation"] = approval.to_dict()
        return approval


_IN_ADVANCE = "confirmed in advance by the request"
_PROMPT = "confirmed at the adapter's prompt"
_NOT_ASKED = "needed, but this adapter cannot ask and the request does not wait"
_NOT_CONFIRMED = "{} was not confirmed; nothing was done."


def _settled(spec: CommandSpec, ticket: Ticket, own: bool, details: dict[str, Any]) -> Approval:
    """The approval of a settled ticket; any other final state raises ConfirmationDeclined.

    ``own`` says the requester's immediate answer settled it (not a decision from elsewhere).
    """
    decision = ticket.final_decision
    details["confirmation"] = {
        "ticket": ticket.id,
        "state": str(ticket.state),
        "by": decision.approver if decision else None,
        "source": decision.source if decision else None,
        "reason": decision.reason if decision else None,
    }
    if ticket.state is TicketState.APPROVED and decision is not None:
        if own:
            how = decision.reason or _PROMPT
            approval = Approval(ticket.id, decision.approver, decision.source, how)
        else:
            how = f"approved on the ticket through {decision.source}"
            approval = Approval(ticket.id, decision.approver, decision.source, how, decision.reason)
        details["confirmation"] = approval.to_dict()
        return approval
    if ticket.state is TicketState.DECLINED and decision is not None:
        if own:
            raise ConfirmationDeclinedError(_NOT_CONFIRMED.format(spec.name))
        why = f": {decision.reason}" if decision.reason else ""
        raise ConfirmationDeclinedError(
            f"{spec.name} was declined by {decision.approver} (ticket {ticket.id}){why}; "
            "nothing was done."
        )
    if ticket.state is TicketState.EXPIRED:
        raise ConfirmationDeclinedError(
            f"Nobody decided approval ticket {ticket.id} for {spec.name} before it expired at "
            f"{ticket.expires_at}; nothing was done. Ask again, or raise "
            "`security.approval_timeout_s`."
        )
    raise ConfirmationDeclinedError(
        f"Approval ticket {ticket.id} for {spec.name} was {ticket.state}; nothing was done."
    )


def _cannot_ask(
    spec: CommandSpec,
    identity: Identity,
    two_person: bool,
    request: CommandRequest,
    arguments: Mapping[str, Any],
) -> str:
    if two_person:
        return (
            f"{spec.name} is a {spec.risk}-risk command and the two-person rule "
            f"(`security.two_person`) applies: someone other than {identity.name} must "
            "approve it. Ask with `--wait` (`logomesh --wait ...`) and have an approver run "
            "`logomesh approvals approve TICKET`."
        )
    # Only natural-language proposals require confirmation below the threshold
    # (logomesh.nl.flow); their text, not the person, chose the command.
    if request.require_confirmation and spec.risk is RiskLevel.DANGER:
        return (
            f"Not run: {spec.name} is a danger-risk command proposed from your words, and such "
            "a proposal runs only after you confirm it at a prompt (`--yes` does not confirm "
            "it in advance). Run this in a terminal to be asked, or type the command "
            f"yourself: `{_typed(spec, arguments)}`."
        )
    if request.require_confirmation:
        return (
            f"Not run: {spec.name} is a {spec.risk}-risk command proposed from your words and "
            "needs your yes: run this in a terminal to be asked, or confirm it in advance "
            "with `--yes` (`logomesh do --yes ...`)."
        )
    return (
        f"Not run: {spec.name} is a {spec.risk}-risk command and needs confirmation; run it "
        "in a terminal to be asked, or confirm in advance (`--yes` on the command line), or "
        "wait for an approver (`logomesh --wait ...`, then `logomesh approvals approve "
        "TICKET`)."
    )


def _typed(spec: CommandSpec, arguments: Mapping[str, Any]) -> str:
    """The ``logomesh run`` line for a command, redacted (this is a message), defaults left out."""
    words = ["logomesh", "run", spec.name]
    fields = spec.args_model.model_fields
    for key, value in redact(dict(arguments)).items():
        if key in fields and not fields[key].is_required() and fields[key].default == value:
            continue
        shown = value if isinstance(value, str) else json.dumps(value)
        words.append(shlex.quote(f"{key}={shown}"))
    return " ".join([*words, "--yes"])


async def _cancel_quietly(service: ApprovalService, ticket: Ticket) -> None:
    """Cancel a ticket whose request stopped waiting; never mask the reason it stopped."""
    if ticket.state is not TicketState.PENDING:
        return
    try:
        await service.cancel(ticket, "the request stopped waiting (cancelled or failed)")
    except LogoMeshError:
        logger.exception("could not cancel approval ticket %s", ticket.id)
