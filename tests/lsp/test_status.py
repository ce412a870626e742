"""The status notifications an extension opts in to (``notifications``): engine ready or
failed, and every change of an approval ticket (lsp_server.features.status)."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import CHATTY, declare, eventually
from tests.lsp.test_confirmation import _approve_from_cli


@pytest.fixture
def chatty_project(project: Path, lsp_env: dict[str, str]) -> Path:
    declare(project, lsp_env, CHATTY)
    return project


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_an_extension_that_asked_hears_of_the_engine_and_of_each_ticket(
    start_editor,
) -> None:
    editor = await start_editor("vscode", options={"notifications": True, "showResults": False})
    (ready,) = await eventually(lambda: editor.notes("engineReady"))
    assert ready == {
        "folder": editor.uri,
        "mode": "local",
        "trusted": True,
        "restricted": False,
        "user": getpass.getuser(),
        "notices": [],
    }
    # A danger command: its ticket is pending while the person is asked, then decided.
    assert (await editor.run("logomesh.wipe"))["ok"] is True
    pending, approved = await eventually(lambda: editor.notes("approvalsChanged")[:2])
    assert pending["state"] == "pending" and approved["state"] == "approved"
    assert pending["ticketId"] == approved["ticketId"]
    for change in (pending, approved):
        assert change["command"] == "wipe" and change["risk"] == "danger"
        assert change["requester"] == getpass.getuser()
        assert set(change) == {"ticketId", "state", "command", "risk", "requester"}
    editor.answer = "Cancel"
    with pytest.raises(JsonRpcException):
        await editor.run("logomesh.wipe")
    changes = await eventually(
        lambda: len(editor.notes("approvalsChanged")) >= 4 and editor.notes("approvalsChanged")
    )
    assert [change["state"] for change in changes] == ["pending", "approved", "pending", "declined"]
    assert changes[2]["ticketId"] == changes[3]["ticketId"] != pending["ticketId"]
    assert not editor.notes("engineFailed")


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_a_client_that_did_not_ask_gets_none_of_them(start_editor) -> None:
    editor = await start_editor("vscode")
    assert (await editor.run("logomesh.wipe"))["ok"] is True
    await editor.run("logomesh.git.status")
    assert editor.notified == []


@pytest.mark.asyncio
async def test_a_folder_whose_engine_cannot_be_built_is_reported(
    start_editor, project: Path
) -> None:
    (project / "logomesh.toml").write_text("mode = 'fast'\n", encoding="utf-8")
    editor = await start_editor("neovim", options={"notifications": True})
    (failed,) = await eventually(lambda: editor.notes("engineFailed"))
    assert failed["folder"] == editor.uri
    assert "logomesh.toml" in failed["message"] and "mode" in failed["message"]
    # As before: the person is told with window/showMessage too.
    await eventually(lambda: [m for m in editor.shown() if "logomesh.toml" in m])
    assert not editor.notes("engineReady")


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_a_ticket_decided_in_another_process_is_announced_once(
    start_editor, lsp_env: dict[str, str]
) -> None:
    """The prompt stays open; a terminal approves the ticket: the view hears of it."""
    editor = await start_editor("vscode", options={"notifications": True, "showResults": False})
    editor.hold = asyncio.Event()
    running = asyncio.ensure_future(editor.run("logomesh.wipe"))
    ticket = await asyncio.to_thread(_approve_from_cli, editor.workspace, lsp_env)
    assert (await asyncio.wait_for(running, 30))["ok"] is True
    editor.hold.set()
    changes = await eventually(
        lambda: editor.notes("approvalsChanged")[1:] and editor.notes("approvalsChanged")
    )
    await asyncio.sleep(0.5)  # nothing more arrives: one announcement per change
    assert [(c["ticketId"], c["state"]) for c in editor.notes("approvalsChanged")] == [
        (ticket, "pending"),
        (ticket, "approved"),
    ]
    assert changes[1]["command"] == "wipe" and changes[1]["requester"] == getpass.getuser()
