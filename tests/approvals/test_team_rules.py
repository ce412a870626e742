"""Who may decide: the approvals.decide permission, and the two-person rule of team mode.

Identities and roles live in the user's config (never a workspace file), which the other
processes read too. The OS user running the tests is alice (admin); bob (developer) and vera
(viewer) answer from other processes as other OS users.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, ConfirmationRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import PermissionDeniedError, TwoPersonRuleError
from tests.approvals.conftest import Proc, actions, cli_async, ran, run_while, trail

ALICE = Actor(Source.CLI, getpass.getuser())

pytestmark = pytest.mark.slow  # real other processes


@pytest.fixture
def team(user_config: Callable[[str], None], tmp_path: Path) -> None:
    user_config(
        f"""
mode = "team"

[database]
url = "sqlite:///{tmp_path / "team.db"}"

[[security.identities]]
name = "alice"
roles = ["admin"]
cli = ["{ALICE.user_id}"]

[[security.identities]]
name = "bob"
roles = ["developer"]
cli = ["bob-os"]

[[security.identities]]
name = "vera"
roles = ["viewer"]
cli = ["vera-os"]
"""
    )


class Never:
    """A confirmer that must not be asked (the requester's yes does not count)."""

    def __init__(self) -> None:
        self.asked: list[ConfirmationRequest] = []

    async def confirm(self, request: ConfirmationRequest) -> bool:
        self.asked.append(request)
        return True


@pytest.mark.usefixtures("team")
def test_own_yes_does_not_suffice_under_the_two_person_rule(
    guarded_engine: Callable[..., Engine],
) -> None:
    """--yes or a prompt from the requester cannot approve a danger command in team mode;
    without waiting it fails at once, before any ticket is written, saying what to do."""
    engine = guarded_engine()
    assert engine.settings.security.two_person == ("danger",)
    never = Never()
    for confirmed in (True, False):
        request = CommandRequest("test.guarded", ALICE, confirmed=confirmed)
        result = run_sync(engine, request, never)
        assert result.error is not None and result.error.code == "command.cancelled"
        assert "two-person rule" in result.message and "--wait" in result.message
        assert "someone other than alice" in result.message
        assert actions(engine, result.correlation_id) == ["test.guarded"]
    assert never.asked == [] and ran(engine) == []
    assert asyncio.run(engine.approvals.list_tickets()) == []


@pytest.mark.usefixtures("team")
def test_only_another_permitted_person_can_approve(
    guarded_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    """alice (requester) is refused by the rule; vera lacks approvals.decide, from the CLI
    and through Engine.decide; bob approves from another process and the command runs."""
    engine = guarded_engine()
    request = CommandRequest("test.guarded", ALICE, {"note": "by bob"}, wait_for_approval=True)
    refusals: dict[str, PermissionDeniedError] = {}

    async def others(ticket_id: str) -> tuple[Proc, Proc]:
        for name, actor in (("alice", ALICE), ("vera", Actor(Source.CLI, "vera-os"))):
            try:
                await engine.decide(ticket_id, actor, True)
            except PermissionDeniedError as exc:
                refusals[name] = exc
        vera = await cli_async(
            workspace, proc_env, "approvals", "approve", ticket_id, "--json", user="vera-os"
        )
        bob = await cli_async(
            workspace, proc_env, "approvals", "approve", ticket_id, "--reason", "looked",
            "--json", user="bob-os",
        )  # fmt: skip
        return vera, bob

    result, (vera, bob) = asyncio.run(run_while(engine, request, others))
    assert isinstance(refusals["alice"], TwoPersonRuleError)
    assert refusals["alice"].code == "approval.two_person"
    assert "another approver must approve" in refusals["alice"].user_message
    assert not isinstance(refusals["vera"], TwoPersonRuleError)
    assert "`approvals.decide`" in refusals["vera"].user_message

    assert vera.code == 3, vera.err  # denied at the door: the command record says so
    assert vera.json()["error"]["code"] == "command.denied"
    assert bob.code == 0, bob.err
    assert result.ok, result.message
    assert ran(engine) == ["by bob"]

    records = trail(engine, result.correlation_id)
    assert [(r.action, r.actor, r.outcome) for r in records] == [
        ("approval.requested", "alice", "ok"),
        ("approval.decide", "alice", "denied"),
        ("approval.decide", "vera", "denied"),
        ("approval.approved", "bob", "ok"),
        ("command.started", "alice", "started"),  # a danger command runs once on record
        ("test.guarded", "alice", "ok"),
    ]
    assert records[2].details["authorization"]["allowed"] is False
    assert records[3].details["reason"] == "looked"
    assert records[-1].details["confirmation"]["by"] == "bob"
    [door] = [
        r
        for batch in engine.audit.store.iter_all()
        for r in batch
        if r.action == "approvals.approve" and r.actor == "vera"
    ]
    assert door.outcome == str(Outcome.DENIED)
    assert door.details["authorization"]["permission"] == "approvals.decide"


@pytest.mark.usefixtures("team")
def test_requester_may_still_decline_their_own_request(
    guarded_engine: Callable[..., Engine],
) -> None:
    """The rule stops self-approval, not withdrawal."""
    engine = guarded_engine()
    request = CommandRequest("test.guarded", ALICE, wait_for_approval=True)

    async def withdraw(ticket_id: str) -> None:
        await engine.decide(ticket_id, ALICE, False, "changed my mind")

    result, _ = asyncio.run(run_while(engine, request, withdraw))
    assert result.outcome is Outcome.CANCELLED
    assert "declined by alice" in result.message and "changed my mind" in result.message
    assert ran(engine) == []
