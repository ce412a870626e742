"""Decisions that must be refused, each with a clear error and an audit record."""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.approvals.models import Ticket, TicketRequest, TicketState
from logomesh.audit.models import AuditRecord
from logomesh.cli.sync import run_sync
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.errors import (
    LogoMeshError,
    TicketAlteredError,
    TicketDecidedError,
    TicketExpiredError,
    UnknownTicketError,
)
from logomesh.storage import sqlite
from tests.approvals.conftest import Proc, actions, trail

OWNER = Actor(Source.CLI, getpass.getuser())


def _open(engine: Engine, **arguments: str) -> Ticket:
    """A pending ticket, as a waiting request (perhaps gone since) would have opened it."""
    request = TicketRequest(
        correlation_id=f"corr-{time.monotonic_ns()}",
        command="test.guarded",
        risk=RiskLevel.DANGER,
        arguments={"note": "go", **arguments},
        requester=OWNER.user_id,
        requester_source="cli",
        separate_approver=False,
        timeout_s=engine.settings.security.approval_timeout_s,
    )
    return asyncio.run(engine.approvals.open(request))


def _decide(engine: Engine, ticket_id: str, approve: bool = True) -> Ticket:
    return asyncio.run(engine.decide(ticket_id, OWNER, approve, "checked"))


def test_unknown_ticket_is_refused_and_recorded(engine: Engine) -> None:
    with pytest.raises(UnknownTicketError) as caught:
        _decide(engine, "no-such-ticket")
    assert caught.value.code == "approval.unknown"
    assert "no-such-ticket" in caught.value.user_message
    assert "logomesh approvals list" in caught.value.user_message
    [record] = [r for r in _all(engine) if r.action == "approval.decide"]
    assert (record.outcome, record.target) == ("error", "no-such-ticket")
    assert record.error is not None and "[approval.unknown]" in record.error


def _all(engine: Engine) -> list[AuditRecord]:
    return [record for batch in engine.audit.store.iter_all() for record in batch]


def test_expired_ticket_is_refused_and_expired_once(
    make_engine: Callable[..., Engine],
) -> None:
    """Past its expiry a ticket is expired (one audit record) and no decision is taken."""
    engine = make_engine({"security": {"approval_timeout_s": 0.2}})
    ticket = _open(engine)
    time.sleep(0.3)
    with pytest.raises(TicketExpiredError) as caught:
        _decide(engine, ticket.id)
    assert caught.value.code == "approval.expired"
    assert "expired at" in caught.value.user_message
    with pytest.raises(TicketExpiredError):
        _decide(engine, ticket.id, approve=False)
    assert actions(engine, ticket.correlation_id) == [
        "approval.requested",
        "approval.expired",
        "approval.decide",
        "approval.decide",
    ]
    stored = asyncio.run(engine.approvals.current(ticket.id))
    assert stored is not None and stored.state is TicketState.EXPIRED and stored.decisions == ()


def test_waiting_request_gives_up_at_expiry(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    """Nobody decides: the waiting command is cancelled when its ticket expires."""
    from logomesh.commands.models import CommandRequest
    from tests.approvals.conftest import guarded

    engine = make_engine({"security": {"approval_timeout_s": 0.3}})
    engine.registry.register(guarded)
    started = time.monotonic()
    result = run_sync(engine, CommandRequest("test.guarded", owner, wait_for_approval=True))
    assert 0.3 <= time.monotonic() - started < 5
    assert result.error is not None and result.error.code == "command.cancelled"
    assert "before it expired" in result.message and "approval_timeout_s" in result.message
    assert actions(engine, result.correlation_id) == [
        "approval.requested",
        "approval.expired",
        "test.guarded",
    ]


def test_already_decided_ticket_names_the_first_decision(engine: Engine) -> None:
    ticket = _open(engine)
    assert _decide(engine, ticket.id).state is TicketState.APPROVED
    with pytest.raises(TicketDecidedError) as caught:
        _decide(engine, ticket.id, approve=False)
    assert caught.value.code == "approval.already_decided"
    assert f"already approved by {OWNER.user_id} (cli)" in caught.value.user_message
    records = trail(engine, ticket.correlation_id)
    assert [r.action for r in records] == [
        "approval.requested",
        "approval.approved",
        "approval.decide",
    ]
    assert records[-1].outcome == "error" and records[-1].details["approve"] is False


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("arguments_digest", "0" * 64),
        ("arguments", '{"note":"rm -rf /"}'),
        ("command", "db.restore"),
        ("arguments", "not json at all"),
        ("risk", "harmless"),
    ],
)
def test_altered_ticket_is_refused(engine: Engine, column: str, value: str) -> None:
    """A ticket row changed in SQLite directly (digest, arguments, command) is refused."""
    ticket = _open(engine)
    path = engine.database.path
    assert path is not None
    conn = sqlite.dbapi_module().connect(str(path))
    conn.execute(f"UPDATE approval_tickets SET {column} = ? WHERE id = ?", (value, ticket.id))
    conn.commit()
    conn.close()
    with pytest.raises(TicketAlteredError) as caught:
        _decide(engine, ticket.id)
    assert caught.value.code == "approval.altered"
    assert ticket.id in caught.value.user_message
    refusals = [r for r in _all(engine) if r.action == "approval.decide"]
    assert len(refusals) == 1 and "[approval.altered]" in (refusals[0].error or "")


def test_secret_arguments_never_reach_the_ticket_table(engine: Engine) -> None:
    secret = "ghp_" + "Z9y8X7w6V5" * 4
    ticket = _open(engine, token=secret)
    assert ticket.arguments["token"] == "[REDACTED]"
    path = engine.database.path
    assert path is not None
    conn = sqlite.dbapi_module().connect(str(path))
    rows = conn.execute("SELECT * FROM approval_tickets").fetchall()
    conn.close()
    assert rows and secret not in repr(rows)
    assert all(secret not in repr(record) for record in _all(engine))


def test_decisions_of_many_kinds_leave_the_chain_valid(engine: Engine) -> None:
    for approve in (True, False):
        _decide(engine, _open(engine).id, approve)
    with pytest.raises(LogoMeshError):
        _decide(engine, "missing")
    report = engine.audit.verify()
    assert report.ok, report.summary()


def test_lazily_expired_ticket_shows_as_expired(
    make_engine: Callable[..., Engine], logomesh_cli: Callable[..., Proc], workspace: Path
) -> None:
    """The waiting process is gone: the ticket expires on the next read (another process's
    `approvals list`), once, and its command never runs anywhere."""
    engine = make_engine({"security": {"approval_timeout_s": 0.2}})
    ticket = _open(engine)
    time.sleep(0.3)
    for _ in range(2):
        listed = logomesh_cli("approvals", "list", "--json")
        assert listed.code == 0, listed.err
        [shown] = listed.json()["data"]
        assert (shown["id"], shown["state"]) == (ticket.id, "expired")
    assert actions(engine, ticket.correlation_id) == ["approval.requested", "approval.expired"]
