"""What the editor configures (initializationOptions, workspace/configuration) and trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import CHATTY, eventually


@pytest.mark.asyncio
async def test_bad_options_are_named_and_the_rest_applies(start_editor) -> None:
    editor = await start_editor(
        "neovim", options={"mode": "fast", "showResults": False, "colour": "blue"}
    )
    expected = (
        "initializationOptions.mode: 'fast' is not a mode",
        "initializationOptions.colour is not a LogoMesh setting",
    )

    def both_named() -> list[str]:
        # The two problems may reach the editor as separate messages: wait for both.
        shown = [m for m in editor.shown() if "initializationOptions" in m]
        return shown if all(any(e in m for m in shown) for e in expected) else []

    shown = await eventually(both_named)
    assert all(any(e in m for m in shown) for e in expected)
    await editor.run("logomesh.git.status")
    assert not [m for m in editor.shown() if m.startswith("LogoMesh git.status")]


@pytest.mark.asyncio
async def test_a_configuration_change_rebuilds_the_engine_with_it(start_editor) -> None:
    """VS Code pulls the ``logomesh`` section when told it changed."""
    editor = await start_editor("vscode", configuration={})
    assert (await editor.run("logomesh.db.status"))["ok"] is True
    editor.client.set_configuration({"mode": "readonly"}, section="logomesh")
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )

    async def denied() -> bool:
        try:
            await editor.run("logomesh.db.backup")
        except JsonRpcException as exc:
            return exc.data["code"] == "command.denied"
        return False

    for _ in range(100):
        if await denied():
            break
    else:
        raise AssertionError("db.backup was never denied after the switch to readonly")


@pytest.mark.asyncio
async def test_an_untrusted_workspace_runs_none_of_its_own_commands(
    start_editor, project: Path
) -> None:
    (project / "logomesh.toml").write_text(CHATTY, encoding="utf-8")  # changed: not trusted
    editor = await start_editor("vscode")
    await eventually(lambda: [m for m in editor.shown() if "are off because" in m])
    with pytest.raises(JsonRpcException) as raised:
        await editor.run("logomesh.chatty")
    assert raised.value.data["code"] == "command.unknown"
    assert (await editor.run("logomesh.git.status"))["ok"] is True


@pytest.mark.asyncio
async def test_the_editors_own_trust_decision_turns_them_on(start_editor, project: Path) -> None:
    (project / "logomesh.toml").write_text(CHATTY, encoding="utf-8")
    editor = await start_editor("vscode", options={"trusted": True})
    listed = await editor.run("logomesh.commands")
    assert "chatty" in {entry["name"] for entry in listed}
    assert not [m for m in editor.shown() if "are off because" in m]
