"""The one door: validation, authorisation, confirmation, timeouts, events and audit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandResult,
    CommandSpec,
    ConfirmationRequest,
    NoArguments,
)
from logomesh.commands.registry import command
from logomesh.commands.values import Actor, Outcome, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.events import AuditRecorded, CommandFinished, CommandStarted, Event


def _record(engine: Engine, result: CommandResult) -> AuditRecord:
    """The command's own audit record for a result, found by its correlation id (an approval
    ticket's state changes are recorded under the same id, as ``approval.*``)."""
    records = engine.audit.store.query(AuditFilter(correlation_id=result.correlation_id))
    own = [
        record
        for record in records
        if not record.action.startswith("approval.") and record.action != "command.started"
    ]
    assert len(own) == 1
    assert own[0].id == result.audit_id
    return own[0]


def test_unknown_command_suggests_the_closest(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """A misspelt command is an error with a suggestion, and the attempt is audited."""
    result = run("stauts")
    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.code == "command.unknown"
    assert "Did you mean status" in result.error.message
    # The engine speaks to every adapter: how to list the commands is the adapter's to add.
    assert "logomesh commands" not in result.error.message
    assert _record(engine, result).action == "stauts"


@pytest.mark.parametrize(
    ("command_name", "arguments", "named"),
    [
        ("audit.query", {"limit": "many"}, "`limit`"),
        ("audit.query", {"since": 5}, "`since`"),
        ("db.downgrade", {}, "`revision`"),
        ("status", {"verbose": True}, "`verbose` is not an argument of status"),
    ],
)
def test_wrong_arguments_name_the_field(
    engine: Engine,
    run: Callable[..., CommandResult],
    command_name: str,
    arguments: dict[str, Any],
    named: str,
) -> None:
    """Wrong types, missing and unknown arguments are refused before anything runs."""
    result = run(command_name, **arguments)
    assert result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert named in result.error.message
    record = _record(engine, result)
    assert record.outcome == "error"
    # Authorised first (so a caller who may not run it learns nothing of its arguments),
    # then refused before anything runs; the decision is in the record.
    assert record.details["authorization"]["allowed"] is True


def test_readonly_mode_denies_writes_and_audits_why(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    """In readonly mode even the owner may not back up; the reason is in the audit record."""
    engine = make_engine({"mode": "readonly"})
    result = run_sync(engine, CommandRequest("db.backup", owner, confirmed=True))
    assert result.outcome is Outcome.DENIED
    assert result.error is not None and result.error.code == "command.denied"
    assert "readonly mode allows only read commands" in result.error.message
    assert not engine.settings.backup_dir.exists()

    authorization = _record(engine, result).details["authorization"]
    assert authorization["allowed"] is False
    assert authorization["permission"] == "db.backup"
    assert "readonly mode" in authorization["reason"]
    assert run_sync(engine, CommandRequest("status", owner)).ok


def _team(tmp_path: Path, **security: Any) -> dict[str, Any]:
    return {
        "mode": "team",
        "database": {"url": f"sqlite:///{tmp_path / 'team.db'}"},
        "security": security,
    }


def test_team_mode_denies_unmapped_users(
    make_engine: Callable[..., Engine], owner: Actor, tmp_path: Path
) -> None:
    """Team mode requires roles: even the OS owner is nobody until mapped."""
    engine = make_engine(_team(tmp_path))
    result = run_sync(engine, CommandRequest("status", owner))
    assert result.outcome is Outcome.DENIED
    assert result.error is not None and "has no roles" in result.error.message
    assert "security.identities" in result.error.message
    record = _record(engine, result)
    assert record.actor == f"cli:{owner.user_id}"
    assert record.outcome == "denied"


def test_viewer_may_read_but_not_back_up(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    """A mapped viewer runs status as their named identity but is denied db.backup."""
    viewer = {"name": "vera", "roles": ["viewer"], "cli": ["vera-os"], "slack": ["U123"]}
    engine = make_engine(_team(tmp_path, identities=[viewer]))

    for actor in (Actor(Source.CLI, "vera-os"), Actor(Source.SLACK, "U123")):
        ok = run_sync(engine, CommandRequest("status", actor))
        assert ok.ok, ok.message
        assert _record(engine, ok).actor == "vera"

    denied = run_sync(
        engine, CommandRequest("db.backup", Actor(Source.CLI, "vera-os"), confirmed=True)
    )
    assert denied.outcome is Outcome.DENIED
    assert denied.error is not None
    assert "none of vera's roles (viewer) grants `db.backup`" in denied.error.message
    details = _record(engine, denied).details
    assert details["authorization"]["allowed"] is False
    assert details["risk"] == "write"

    stranger = run_sync(engine, CommandRequest("status", Actor(Source.SLACK, "U999")))
    assert stranger.outcome is Outcome.DENIED


class FixedConfirmer:
    """An adapter's answer to "confirm?", fixed in advance; remembers what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[ConfirmationRequest] = []

    async def confirm(self, request: ConfirmationRequest) -> bool:
        self.asked.append(request)
        return self.answer


ASK_FROM_WRITE = {"security": {"confirm_from": "write"}}


def test_write_command_without_a_confirmer_is_cancelled(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    """An adapter that cannot ask gets a cancellation telling how to confirm in advance."""
    engine = make_engine(ASK_FROM_WRITE)
    run_sync(engine, CommandRequest("status", owner))
    result = run_sync(engine, CommandRequest("db.backup", owner))
    assert result.outcome is Outcome.CANCELLED
    assert result.error is not None and result.error.code == "command.cancelled"
    assert "write-risk command and needs confirmation" in result.error.message
    assert "--yes" in result.error.message
    confirmation = _record(engine, result).details["confirmation"]
    assert confirmation["state"] == "not asked"
    assert confirmation["how"].startswith("needed, but this adapter cannot ask")
    assert not engine.settings.backup_dir.exists()

    confirmed = run_sync(engine, CommandRequest("db.backup", owner, confirmed=True))
    assert confirmed.ok, confirmed.message
    confirmation = _record(engine, confirmed).details["confirmation"]
    assert confirmation["how"] == "confirmed in advance by the request"
    assert (confirmation["state"], confirmation["by"]) == ("approved", owner.user_id)


@pytest.mark.parametrize("answer", [False, True])
def test_confirmer_decides(make_engine: Callable[..., Engine], owner: Actor, answer: bool) -> None:
    """The engine asks the adapter's confirmer; no means cancelled, yes means it runs."""
    engine = make_engine(ASK_FROM_WRITE)
    confirmer = FixedConfirmer(answer)
    run_sync(engine, CommandRequest("status", owner), confirmer)  # read: never asks
    assert confirmer.asked == []

    result = run_sync(engine, CommandRequest("db.backup", owner), confirmer)
    [question] = confirmer.asked
    assert (question.command, question.risk, question.identity) == (
        "db.backup",
        RiskLevel.WRITE,
        owner.user_id,
    )
    assert question.prompt.startswith("Run db.backup") and "write risk" in question.prompt
    confirmation = _record(engine, result).details["confirmation"]
    assert question.ticket_id == confirmation["ticket"]
    assert confirmation["by"] == owner.user_id
    if answer:
        assert result.ok, result.message
        assert Path(result.data["path"]).is_file()
        assert confirmation["state"] == "approved"
    else:
        assert result.outcome is Outcome.CANCELLED
        assert "not confirmed" in result.message
        assert confirmation["state"] == "declined"
        assert not engine.settings.backup_dir.exists()


def test_by_default_only_danger_commands_ask(engine: Engine, owner: Actor) -> None:
    """With default settings a write runs unasked; a danger command always asks."""
    confirmer = FixedConfirmer(False)
    run_sync(engine, CommandRequest("status", owner))
    assert run_sync(engine, CommandRequest("db.backup", owner), confirmer).ok
    pruned = run_sync(engine, CommandRequest("audit.prune", owner, {"payloads_older_than": "1d"}))
    assert pruned.outcome is Outcome.CANCELLED
    declined = run_sync(
        engine, CommandRequest("audit.prune", owner, {"payloads_older_than": "1d"}), confirmer
    )
    assert declined.outcome is Outcome.CANCELLED
    assert [q.command for q in confirmer.asked] == ["audit.prune"]


@command("test.sleep", summary="Sleeps", permission="test.sleep", risk=RiskLevel.READ)
async def _sleep(ctx: CommandContext, args: NoArguments) -> CommandOutput:
    await asyncio.sleep(5)
    return CommandOutput(message="woke up")


@command(
    "test.nap",
    summary="Sleeps past its own limit",
    permission="t",
    risk=RiskLevel.READ,
    timeout_s=0.05,
)
async def _nap(ctx: CommandContext, args: NoArguments) -> CommandOutput:
    await asyncio.sleep(5)
    return CommandOutput(message="woke up")


class BoomArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detail: str = "kaput"


@command("test.boom", summary="Fails unexpectedly", permission="t", risk=RiskLevel.READ)
async def _boom(ctx: CommandContext, args: BoomArgs) -> CommandOutput:
    raise ZeroDivisionError(args.detail)


def test_request_timeout_stops_the_handler(engine: Engine, owner: Actor) -> None:
    """A handler running past the request's timeout is stopped: command.timeout, audited."""
    engine.registry.register(_sleep)
    result = run_sync(engine, CommandRequest("test.sleep", owner, timeout_s=0.1))
    assert result.error is not None and result.error.code == "command.timeout"
    assert "within 0.1 s" in result.error.message
    assert result.duration_ms < 2000
    assert _record(engine, result).error == f"[command.timeout] {result.error.message}"


def test_command_timeout_applies_without_a_request_timeout(engine: Engine, owner: Actor) -> None:
    """A command's declared timeout is used when the request sets none."""
    engine.registry.register(_nap)
    result = run_sync(engine, CommandRequest("test.nap", owner))
    assert result.error is not None and result.error.code == "command.timeout"
    assert "within 0.05 s" in result.error.message


def test_unexpected_exception_is_an_internal_error(
    engine: Engine, run: Callable[..., CommandResult], caplog: pytest.LogCaptureFixture
) -> None:
    """A handler bug becomes outcome error, code internal, logged with its traceback, audited."""
    engine.registry.register(_boom)
    result = run("test.boom", detail="divided by nothing")
    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.code == "internal"
    assert "ZeroDivisionError: divided by nothing" in result.error.message
    record = _record(engine, result)
    assert record.outcome == "error"
    assert record.error is not None and record.error.startswith("[internal]")
    assert any(r.exc_info for r in caplog.records)  # the traceback goes to the log only
    assert run("status").ok  # the engine carries on


def test_events_are_published_in_order(engine: Engine, owner: Actor) -> None:
    """Subscribers see CommandStarted, AuditRecorded, CommandFinished with one correlation id."""
    seen: list[Event] = []

    async def on_finished(event: CommandFinished) -> None:
        seen.append(event)

    engine.events.subscribe(CommandStarted, seen.append)
    engine.events.subscribe(AuditRecorded, seen.append)
    engine.events.subscribe(CommandFinished, on_finished)
    engine.events.subscribe(Event, lambda e: 1 / 0)  # a broken subscriber changes nothing

    request = CommandRequest("status", owner)
    result = run_sync(engine, request)
    assert result.ok
    assert [type(e) for e in seen] == [CommandStarted, AuditRecorded, CommandFinished]
    assert {e.correlation_id for e in seen} == {request.correlation_id}
    started, recorded, finished = seen
    assert isinstance(started, CommandStarted) and started.actor == owner.user_id
    assert isinstance(recorded, AuditRecorded) and recorded.record_id == result.audit_id
    assert isinstance(finished, CommandFinished) and finished.outcome == "ok"

    seen.clear()
    denied = run_sync(engine, CommandRequest("status", Actor(Source.SLACK, "U0")))
    # Refused before running: no CommandStarted, but the denial is still recorded.
    assert [type(e) for e in seen] == [AuditRecorded, CommandFinished]
    assert isinstance(seen[1], CommandFinished) and seen[1].outcome == str(denied.outcome)


def test_a_spec_whose_terms_change_as_it_is_prepared_is_authorised_again(
    make_engine: Callable[..., Engine],
) -> None:
    """Authorised before prepare (a plugin's manifest), and again when prepare returns other
    terms (a reload changed the manifest meanwhile): the stricter permission decides."""
    nina = {"name": "nina", "roles": ["narrow"], "cli": ["nina"]}
    engine = make_engine({"security": {"roles": {"narrow": ["t.open"]}, "identities": [nina]}})
    ran: list[str] = []

    async def handler(ctx: CommandContext, args: NoArguments) -> CommandOutput:
        ran.append("ran")
        return CommandOutput()

    async def prepare() -> CommandSpec:
        return replace(spec, permission="t.secret", prepare=None)

    spec = CommandSpec(
        "t.shifty", "test", NoArguments, "t.open", RiskLevel.READ, handler, prepare=prepare
    )
    engine.registry.register(spec)
    result = run_sync(engine, CommandRequest("t.shifty", Actor(Source.CLI, "nina")))
    assert result.outcome is Outcome.DENIED and ran == []
    record = _record(engine, result)
    assert record.details["authorization"]["permission"] == "t.secret"
    assert record.details["authorization"]["allowed"] is False
    # Without the change the same caller may run it.
    engine.registry.replace(replace(spec, prepare=None))
    assert run_sync(engine, CommandRequest("t.shifty", Actor(Source.CLI, "nina"))).ok
    assert ran == ["ran"]
