"""Two approvers in two processes decide the same ticket at the same moment: one wins."""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.approvals.models import TicketRequest, TicketState
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from tests.approvals.conftest import trail

OWNER = Actor(Source.CLI, getpass.getuser())

# Each approver warms up (engine, schema, connections), then sleeps until the common start
# time, so both read the pending ticket and try to settle it together.
DECIDER = """
import asyncio, json, sys, time
from pathlib import Path
from logomesh.audit.models import Source
from logomesh.config import load_settings
from logomesh.composition import build_engine
from logomesh.errors import LogoMeshError
from logomesh.security.identity import Actor

workspace, ticket_id, user, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
engine = build_engine(load_settings(Path(workspace)).settings)

async def main():
    await engine.approvals.current(ticket_id)
    await asyncio.sleep(max(0.0, start - time.time()))
    try:
        ticket = await engine.decide(ticket_id, Actor(Source.CLI, user), True, "from " + user)
        return {"won": True, "state": str(ticket.state)}
    except LogoMeshError as exc:
        return {"won": False, "code": exc.code, "message": exc.user_message}

print(json.dumps(asyncio.run(main())))
"""

pytestmark = pytest.mark.slow  # real other processes


@pytest.fixture
def two_admins(user_config: Callable[[str], None]) -> None:
    user_config(
        """
[[security.identities]]
name = "bob"
roles = ["admin"]
cli = ["bob-os"]

[[security.identities]]
name = "carol"
roles = ["admin"]
cli = ["carol-os"]
"""
    )


@pytest.mark.usefixtures("two_admins")
def test_simultaneous_approvals_from_two_processes_have_one_winner(
    make_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    engine = make_engine()
    request = TicketRequest(
        correlation_id="race-1", command="test.guarded", risk=RiskLevel.DANGER,
        arguments={"note": "go"}, requester=OWNER.user_id, requester_source="cli",
        separate_approver=False, timeout_s=600,
    )  # fmt: skip
    ticket = asyncio.run(engine.approvals.open(request))
    start = time.time() + 3.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", DECIDER, str(workspace), ticket.id, user, str(start)],
            cwd=workspace,
            env=proc_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in ("bob-os", "carol-os")
    ]
    answers = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        answers.append(json.loads(out.splitlines()[-1]))

    winners = [answer for answer in answers if answer["won"]]
    losers = [answer for answer in answers if not answer["won"]]
    assert len(winners) == 1 and len(losers) == 1, answers
    assert winners[0]["state"] == "approved"
    assert losers[0]["code"] == "approval.already_decided"
    assert "already approved by" in losers[0]["message"]

    stored = asyncio.run(engine.approvals.current(ticket.id))
    assert stored is not None and stored.state is TicketState.APPROVED
    assert len(stored.decisions) == 1  # the loser's decision left no row
    winner = stored.decisions[0].approver
    # The loser's refusal may be recorded before the winner's approval: compare by action.
    records = {r.action: r for r in trail(engine, "race-1")}
    assert sorted((r.action, r.outcome) for r in records.values()) == [
        ("approval.approved", "ok"),
        ("approval.decide", "error"),
        ("approval.requested", "ok"),
    ]
    assert records["approval.approved"].actor == winner
    assert records["approval.decide"].actor not in (winner, OWNER.user_id)
    assert engine.audit.verify().ok
