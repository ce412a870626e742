"""Restricted Mode over LSP: ``trusted: false`` from the editor (VS Code's Workspace Trust)
leaves out, and refuses, the built-in commands that run the workspace's code; trusting the
folder (a configuration change) rebuilds the engine and allows them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import eventually
from tests.lsp.test_code_actions import actions, opened, span

RUN_TESTS = "LogoMesh: Run the tests for this file"

CONFTEST = "import pathlib\n(pathlib.Path(__file__).parent / 'conftest-ran').write_text('ran')\n"


@pytest.mark.asyncio
async def test_an_untrusted_window_gets_no_tests_run_until_the_folder_is_trusted(
    start_editor, project: Path
) -> None:
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_demo.py").write_text("def test_ok():\n    assert True\n")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # pytest, as a venv
    options = {"trusted": False, "notifications": True, "showResults": False}
    editor = await start_editor(
        "vscode", options=options, configuration=options, env={"PATH": path}
    )
    (ready,) = await eventually(lambda: editor.notes("engineReady"))
    assert ready["restricted"] is True and ready["trusted"] is False
    listed = {entry["name"] for entry in await editor.run("logomesh.commands")}
    assert "tests.run" not in listed and "git.push" not in listed and "git.status" in listed
    await eventually(lambda: "logomesh.git.status" in editor.advertised())
    assert "logomesh.tests.run" not in editor.advertised()
    with pytest.raises(JsonRpcException) as raised:
        await editor.run("logomesh.tests.run")
    assert raised.value.data["code"] == "workspace.restricted"
    assert "conftest.py" in raised.value.message
    assert "Manage Workspace Trust" in raised.value.message
    assert raised.value.data["result"]["outcome"] == "denied"
    assert not (project / "conftest-ran").exists()
    uri = opened(editor, project / "test_demo.py")
    listed = await actions(editor, uri, span(0, 0, 0, 0))
    assert RUN_TESTS not in listed and "LogoMesh: Search the audit trail for this file" in listed

    # The person trusts the folder: the extension says the configuration changed (its
    # answer need not repeat the opt-in to notifications: what initialize said stays).
    editor.client.set_configuration({"trusted": True, "showResults": False}, section="logomesh")
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    (rebuilt,) = await eventually(lambda: editor.notes("engineReady")[1:])
    assert rebuilt["restricted"] is False and rebuilt["trusted"] is True
    result = await editor.run("logomesh.tests.run")
    assert result["ok"] is True and result["data"]["passed"] is True, result["message"]
    assert (project / "conftest-ran").exists()
    await eventually(lambda: "logomesh.tests.run" in editor.advertised())
    assert RUN_TESTS in await actions(editor, uri, span(0, 0, 0, 0))


@pytest.mark.asyncio
async def test_a_request_waiting_for_the_engine_is_answered_by_the_rebuilt_one(
    start_editor, project: Path
) -> None:
    """The person trusts the folder while its engine is still being built (VS Code's trust
    dialog is up at start): the request waiting for that build is answered by the engine
    built with the new options, not failed as cancelled."""
    options = {"trusted": False, "notifications": True, "showResults": False}
    editor = await start_editor("vscode", options=options, configuration=options)
    listing = asyncio.ensure_future(editor.run("logomesh.commands"))
    editor.client.set_configuration({"trusted": True, "showResults": False}, section="logomesh")
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    listed = {entry["name"] for entry in await listing}
    assert "tests.run" in listed  # from the trusted engine
    assert all(note["trusted"] for note in editor.notes("engineReady"))
