"""The in-process confirmer (the terminal prompt) and --yes are decisions on a ticket."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable

import pytest

from logomesh.approvals.models import TicketState, arguments_digest
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalDecided, ApprovalRequested
from tests.approvals.conftest import ran, trail
from tests.commands.test_engine import FixedConfirmer

OWNER = Actor(Source.CLI, getpass.getuser())
SECRET = "ghp_" + "Q1w2E3r4T5" * 4


@pytest.mark.parametrize("answer", [True, False])
def test_prompt_answer_is_recorded_on_the_ticket_and_names_the_approver(
    guarded_engine: Callable[..., Engine], answer: bool
) -> None:
    engine = guarded_engine()
    seen: list[object] = []
    engine.events.subscribe(ApprovalRequested, seen.append)
    engine.events.subscribe(ApprovalDecided, seen.append)
    confirmer = FixedConfirmer(answer)
    arguments = {"note": "prompted", "token": SECRET}
    result = run_sync(engine, CommandRequest("test.guarded", OWNER, arguments), confirmer)

    [question] = confirmer.asked
    assert question.arguments == {"note": "prompted", "token": "[REDACTED]"}
    assert SECRET not in question.prompt
    requested, decided = seen
    assert isinstance(requested, ApprovalRequested) and isinstance(decided, ApprovalDecided)
    assert requested.arguments["token"] == "[REDACTED]"
    assert question.ticket_id == requested.ticket_id == decided.ticket_id

    ticket = asyncio.run(engine.approvals.current(requested.ticket_id))
    assert ticket is not None
    assert ticket.arguments == question.arguments
    assert ticket.arguments_digest == arguments_digest(arguments)  # of the real arguments
    [decision] = ticket.decisions
    assert (decision.approver, decision.source, decision.approve) == (OWNER.user_id, "cli", answer)

    records = trail(engine, result.correlation_id)
    state = "approved" if answer else "declined"
    assert [r.action for r in records] == [
        "approval.requested",
        f"approval.{state}",
        *(["command.started"] if answer else []),  # a danger command's start, once approved
        "test.guarded",
    ]
    assert all(SECRET not in repr(record) for record in records)
    confirmation = records[-1].details["confirmation"]
    assert (confirmation["ticket"], confirmation["by"]) == (ticket.id, OWNER.user_id)
    if answer:
        assert ticket.state is TicketState.APPROVED and result.ok
        assert confirmation["how"] == "confirmed at the adapter's prompt"
        assert ran(engine) == ["prompted"]
    else:
        assert ticket.state is TicketState.DECLINED
        assert result.outcome is Outcome.CANCELLED and "not confirmed" in result.message
        assert ran(engine) == []


def test_yes_is_the_requesters_decision_in_advance(
    guarded_engine: Callable[..., Engine],
) -> None:
    engine = guarded_engine()
    result = run_sync(engine, CommandRequest("test.guarded", OWNER, confirmed=True))
    assert result.ok, result.message
    records = trail(engine, result.correlation_id)
    assert [r.action for r in records] == [
        "approval.requested",
        "approval.approved",
        "command.started",
        "test.guarded",
    ]
    assert records[1].actor == OWNER.user_id
    confirmation = records[-1].details["confirmation"]
    assert confirmation["how"] == "confirmed in advance by the request"
    assert confirmation["by"] == OWNER.user_id


def test_no_confirmer_and_no_wait_fails_fast_without_a_ticket(
    guarded_engine: Callable[..., Engine],
) -> None:
    """The CLI without a terminal: cancelled at once, told about --yes and --wait."""
    engine = guarded_engine()
    result = run_sync(engine, CommandRequest("test.guarded", OWNER))
    assert result.error is not None and result.error.code == "command.cancelled"
    assert "--yes" in result.message and "--wait" in result.message
    assert [r.action for r in trail(engine, result.correlation_id)] == ["test.guarded"]
    assert asyncio.run(engine.approvals.list_tickets()) == []
