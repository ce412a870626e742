"""Several workspace folders: one engine each, a command runs where its folder option says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lsprotocol import types

from tests.conftest import trust_now

NAMED = """
[[devshell.commands]]
name = "{name}"
summary = "Say which folder this is"
argv = ["git", "rev-parse", "--show-toplevel"]
risk = "read"
"""


def folder(root: Path, name: str, env: dict[str, str]) -> Path:
    path = root / name
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "logomesh.toml").write_text(NAMED.format(name=f"where.{name}"), encoding="utf-8")
    trust_now(path, env)
    return path


@pytest.mark.asyncio
async def test_each_folder_has_its_own_engine_and_commands(
    start_editor, tmp_path: Path, lsp_env: dict[str, str]
) -> None:
    left, right = folder(tmp_path, "left", lsp_env), folder(tmp_path, "right", lsp_env)
    editor = await start_editor("vscode", folders=[left, right])

    async def names(where: Path) -> set[str]:
        listed = await editor.client.workspace_execute_command_async(
            _params("logomesh.commands", [{}, {"folder": where.as_uri()}])
        )
        return {entry["name"] for entry in listed}

    assert "where.left" in await names(left) and "where.right" not in await names(left)
    assert "where.right" in await names(right)
    ran = await editor.client.workspace_execute_command_async(
        _params("logomesh.where.right", [{}, {"folder": right.as_uri()}])
    )
    assert ran["data"]["stdout"].strip() == str(right)
    # No folder named: the first one.
    assert "where.left" in {entry["name"] for entry in await editor.run("logomesh.commands")}


def _params(command: str, arguments: list[object]) -> types.ExecuteCommandParams:
    return types.ExecuteCommandParams(command=command, arguments=arguments)
