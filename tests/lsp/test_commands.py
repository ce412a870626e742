"""workspace/executeCommand: the engine's commands, through the one door, with source lsp."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import ALL_CLIENTS


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_a_read_command_returns_its_result_as_json(start_editor, client: str) -> None:
    editor = await start_editor(client)
    result = await editor.run("logomesh.git.log", {"count": 1})
    assert result["ok"] is True and result["outcome"] == "ok"
    assert result["data"]["commits"][0]["subject"] == "first"
    assert result["audit_id"]
    listed = await editor.run("logomesh.audit.query", {"limit": 5})
    mine = [r for r in listed["data"] if r["id"] == result["audit_id"]]
    assert mine and mine[0]["source"] == "lsp"


@pytest.mark.asyncio
async def test_an_unknown_command_is_an_invalid_params_error(start_editor) -> None:
    editor = await start_editor("vscode")
    with pytest.raises(JsonRpcException) as raised:
        await editor.run("logomesh.git.lgo")
    assert raised.value.code == -32602
    assert raised.value.data["code"] == "command.unknown"
    assert "git.log" in raised.value.message  # the engine suggests the near miss
