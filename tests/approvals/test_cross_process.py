"""A waiting request resumes when another process decides its ticket, and only then."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.approvals.models import TicketState, seal_of
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.security.policy import Policy
from logomesh.storage import sqlite
from tests.approvals.conftest import Proc, actions, cli_async, ran, run_while, trail

OWNER = Actor(Source.CLI, getpass.getuser())
REQUESTED, APPROVED, GUARDED = "approval.requested", "approval.approved", "test.guarded"

pytestmark = pytest.mark.slow  # real other processes


def _waiting(note: str = "go", **arguments: str) -> CommandRequest:
    return CommandRequest(
        "test.guarded", OWNER, {"note": note, **arguments}, wait_for_approval=True
    )


def test_resumes_when_approved_from_another_process(
    guarded_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    """The CLI in another process approves; the waiting command runs, naming the approver."""
    engine = guarded_engine()

    async def approve(ticket_id: str) -> Proc:
        assert ran(engine) == []  # nothing runs before the decision
        return await cli_async(workspace, proc_env, "approvals", "approve", ticket_id, "--json")

    result, answer = asyncio.run(run_while(engine, _waiting("resumed"), approve))
    assert answer.code == 0, answer.err
    assert answer.json()["data"]["state"] == "approved"
    assert result.ok, result.message
    assert ran(engine) == ["resumed"]

    records = trail(engine, result.correlation_id)
    assert [r.action for r in records] == [REQUESTED, APPROVED, "command.started", GUARDED]
    confirmation = records[-1].details["confirmation"]
    assert confirmation["by"] == OWNER.user_id and confirmation["source"] == "cli"
    assert confirmation["how"] == "approved on the ticket through cli"
    assert records[-1].details["authorization_after_approval"]["allowed"] is True


def test_declined_from_another_process_runs_nothing(
    guarded_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    """A decline (with its reason) cancels the waiting command; the handler never runs."""
    engine = guarded_engine()

    async def decline(ticket_id: str) -> Proc:
        return await cli_async(
            workspace, proc_env, "approvals", "decline", ticket_id, "--reason", "not today",
            "--json",
        )  # fmt: skip

    result, answer = asyncio.run(run_while(engine, _waiting(), decline))
    assert answer.code == 0, answer.err
    assert result.outcome is Outcome.CANCELLED
    assert result.error is not None and result.error.code == "command.cancelled"
    assert f"declined by {OWNER.user_id}" in result.message and "not today" in result.message
    assert ran(engine) == []
    assert actions(engine, result.correlation_id) == [REQUESTED, "approval.declined", GUARDED]


def _alter(db_file: Path, ticket_id: str, column: str, value: str, *, reseal: bool) -> None:
    """Change a ticket row behind the engine's back (as someone with the file would)."""
    # The engine's own SQLite library: two copies in one process would ignore each other's locks.
    driver = sqlite.dbapi_module()
    conn = driver.connect(str(db_file))
    conn.row_factory = driver.Row
    conn.execute(f"UPDATE approval_tickets SET {column} = ? WHERE id = ?", (value, ticket_id))
    if reseal:
        select = "SELECT * FROM approval_tickets WHERE id = ?"
        row = dict(conn.execute(select, (ticket_id,)).fetchone())
        row["arguments"] = json.loads(row["arguments"])
        row["separate_approver"] = bool(row["separate_approver"])
        for key in ("state", "decided_at", "seal"):
            row.pop(key)
        conn.execute("UPDATE approval_tickets SET seal = ? WHERE id = ?", (seal_of(row), ticket_id))
    conn.commit()
    conn.close()


def test_resealed_ticket_with_other_arguments_is_refused_by_the_requester(
    guarded_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    """Someone rewrites the digest and recomputes the seal, so the approval goes through;
    the requester's process still compares the digest with its own arguments and refuses."""
    engine = guarded_engine()
    db_file = engine.settings.state_dir / "logomesh.db"

    async def tamper_then_approve(ticket_id: str) -> Proc:
        _alter(db_file, ticket_id, "arguments_digest", "0" * 64, reseal=True)
        return await cli_async(workspace, proc_env, "approvals", "approve", ticket_id, "--json")

    result, answer = asyncio.run(run_while(engine, _waiting(), tamper_then_approve))
    assert answer.code == 0, answer.err  # the seal matched, so the decision was taken
    assert result.error is not None and result.error.code == "approval.altered"
    assert "was not run" in result.error.message
    assert ran(engine) == []


def test_cancelled_wait_cancels_the_ticket(guarded_engine: Callable[..., Engine]) -> None:
    """A waiting request that is cancelled leaves a cancelled ticket, audited, not a pending one."""
    engine = guarded_engine()

    async def cancel_soon() -> str:
        opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        from logomesh.events import ApprovalRequested

        engine.events.subscribe(ApprovalRequested, lambda e: opened.set_result(e.ticket_id))
        task = asyncio.create_task(engine.execute(_waiting()))
        ticket_id = await opened
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return ticket_id

    ticket_id = asyncio.run(cancel_soon())
    ticket = asyncio.run(engine.approvals.current(ticket_id))
    assert ticket is not None and ticket.state is TicketState.CANCELLED
    records = trail(engine, ticket.correlation_id)
    assert [r.action for r in records] == [REQUESTED, "approval.cancelled", GUARDED]
    assert records[-1].outcome == "cancelled"
    assert ran(engine) == []


def test_requester_is_authorised_again_after_the_wait(
    guarded_engine: Callable[..., Engine],
    workspace: Path,
    proc_env: dict[str, str],
    test_env: dict[str, str],
) -> None:
    """The policy tightens while the request waits (a long-lived server reloads it): the
    approved command is denied, recorded, and does not run."""
    engine = guarded_engine()

    async def tighten_then_approve(ticket_id: str) -> Proc:
        stricter = load_settings(workspace, {"security": {"max_risk": "write"}}, environ=test_env)
        engine.policy = Policy(stricter.settings)
        return await cli_async(workspace, proc_env, "approvals", "approve", ticket_id, "--json")

    result, answer = asyncio.run(run_while(engine, _waiting(), tighten_then_approve))
    assert answer.code == 0, answer.err
    assert result.outcome is Outcome.DENIED
    assert result.error is not None and "may no longer run test.guarded" in result.error.message
    details = trail(engine, result.correlation_id)[-1].details
    assert details["confirmation"]["state"] == "approved"
    assert details["authorization_after_approval"]["allowed"] is False
    assert ran(engine) == []
