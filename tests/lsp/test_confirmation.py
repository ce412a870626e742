"""Commands that need a yes: asked in the editor, answered here or by another adapter.

VS Code and Neovim answer ``window/showMessageRequest`` (the test plays the person through
``editor.answer``); Helix answers it with MethodNotFound, as Helix 25.07 does, so its command
waits on an approval ticket and the client is answered with it at once.
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from tests.lsp.conftest import CHATTY, declare, eventually


@pytest.fixture
def chatty_project(project: Path, lsp_env: dict[str, str]) -> Path:
    declare(project, lsp_env, CHATTY)
    return project


def records_of(project: Path, env: dict[str, str], action: str) -> list[dict]:
    loaded = load_settings(project, environ=env)
    engine = build_engine(loaded.settings)
    try:
        found = engine.audit.store.query(AuditFilter(action=action, limit=20))
        return [record.to_dict() for record in found]
    finally:
        engine.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_a_danger_command_runs_once_the_person_says_run(start_editor) -> None:
    editor = await start_editor("vscode")
    result = await editor.run("logomesh.wipe")
    assert result["ok"] is True
    (question,) = editor.asked
    assert "wipe" in question.message and "danger" in question.message
    assert [action.title for action in question.actions] == ["Run", "Cancel"]
    (record,) = records_of(editor.workspace, editor.env, "wipe")
    confirmation = record["details"]["confirmation"]
    assert confirmation["by"] == getpass.getuser() and confirmation["source"] == "lsp"


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_cancel_at_the_prompt_runs_nothing(start_editor) -> None:
    editor = await start_editor("neovim")
    editor.answer = "Cancel"
    with pytest.raises(JsonRpcException) as raised:
        await editor.run("logomesh.wipe")
    assert raised.value.data["code"] == "command.cancelled"
    assert "not confirmed" in raised.value.message or "declined" in raised.value.message
    (record,) = records_of(editor.workspace, editor.env, "wipe")
    assert record["outcome"] == "cancelled"


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_an_approval_from_another_adapter_wins_over_an_open_prompt(
    start_editor, lsp_env: dict[str, str]
) -> None:
    """The prompt stays open (nobody clicks); a terminal approves the ticket meanwhile."""
    editor = await start_editor("vscode")
    editor.hold = asyncio.Event()
    running = asyncio.ensure_future(editor.run("logomesh.wipe"))
    await eventually(lambda: editor.asked)
    ticket = await asyncio.to_thread(_approve_from_cli, editor.workspace, lsp_env)
    result = await asyncio.wait_for(running, 30)
    editor.hold.set()
    assert result["ok"] is True
    (record,) = records_of(editor.workspace, editor.env, "wipe")
    confirmation = record["details"]["confirmation"]
    assert confirmation["ticket"] == ticket and confirmation["source"] == "cli"
    # The prompt that lost made no decision of its own: no refused "already decided" record.
    assert records_of(editor.workspace, editor.env, "approval.decide") == []


def _approve_from_cli(project: Path, env: dict[str, str]) -> str:
    loaded = load_settings(project, environ=env)
    engine = build_engine(loaded.settings)
    try:
        for _ in range(200):
            pending = run_sync(engine, _request("approvals.list", {"state": "pending"}))
            if pending.ok and pending.data:
                ticket = pending.data[0]["id"]
                decided = run_sync(engine, _request("approvals.approve", {"id": ticket}))
                assert decided.ok, decided.message
                return str(ticket)
            import time

            time.sleep(0.05)
        raise AssertionError("no pending ticket appeared")
    finally:
        engine.close()


def _request(command: str, arguments: dict) -> object:
    from logomesh.commands.models import CommandRequest

    return CommandRequest(command, Actor(Source.CLI, getpass.getuser()), arguments)


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_a_client_that_cannot_prompt_gets_the_ticket_and_approves_it(start_editor) -> None:
    editor = await start_editor("helix")
    answer = await editor.run("logomesh.wipe")
    assert answer["outcome"] == "pending" and answer["ok"] is False
    ticket = answer["ticket"]["id"]
    approve = {"command": "logomesh.approvals.approve", "arguments": [{"id": ticket}]}
    assert answer["approve"] == approve
    assert len(editor.asked) == 1  # asked, and refused by the client
    # Helix does not show a command's answer: the ticket is also said in a message.
    assert any(ticket in m and "waits for approval" in m for m in editor.shown())
    approved = await editor.run("logomesh.approvals.approve", {"id": ticket})
    assert approved["ok"] is True
    # The waiting command then runs in the background and says how it ended.
    await eventually(lambda: any(m.startswith("LogoMesh wipe:") for m in editor.shown()))
    (record,) = records_of(editor.workspace, editor.env, "wipe")
    assert record["outcome"] == "ok" and record["details"]["confirmation"]["ticket"] == ticket
