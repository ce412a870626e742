"""Start-up: what the server advertises, and that it answers before any engine exists."""

from __future__ import annotations

import pytest

from tests.lsp.conftest import ALL_CLIENTS, eventually


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_initialize_advertises_the_servers_own_commands(start_editor, client: str) -> None:
    editor = await start_editor(client)
    assert editor.initialized is not None
    assert editor.initialized.server_info.name == "logomesh"
    result = editor.initialized.capabilities
    assert result.execute_command_provider is not None
    assert {"logomesh.commands", "logomesh.do", "logomesh.run"} <= set(
        result.execute_command_provider.commands
    )


@pytest.mark.asyncio
async def test_a_client_with_dynamic_registration_is_given_every_command(start_editor) -> None:
    """VS Code: the engine's commands follow with client/registerCapability."""
    editor = await start_editor("vscode")
    names = await eventually(editor.advertised)
    assert {"logomesh.status", "logomesh.git.status", "logomesh.approvals.approve"} <= names
    assert "logomesh.do" not in names  # advertised once, at initialize


@pytest.mark.asyncio
async def test_commands_lists_what_the_user_may_run_with_schemas(start_editor) -> None:
    editor = await start_editor("neovim")
    listed = await editor.run("logomesh.commands")
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["git.log"]["lsp_command"] == "logomesh.git.log"
    assert by_name["git.log"]["schema"]["type"] == "object"
    assert "count" in by_name["git.log"]["schema"]["properties"]
