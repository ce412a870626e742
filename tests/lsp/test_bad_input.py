"""Bad input gets a clear error and the server stays up: wrong arguments, denied commands,
unreadable frames, a handler that crashes, a client that goes away mid-command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import CHATTY, declare, eventually
from tests.lsp.test_confirmation import records_of
from tests.lsp.test_progress import chatty_running


async def error_of(editor, command: str, arguments: object) -> JsonRpcException:
    params = types.ExecuteCommandParams(command=command, arguments=arguments)  # type: ignore[arg-type]
    with pytest.raises(JsonRpcException) as raised:
        await editor.client.workspace_execute_command_async(params)
    return raised.value


@pytest.mark.asyncio
async def test_arguments_of_the_wrong_type_or_shape_name_the_problem(start_editor) -> None:
    editor = await start_editor("vscode")
    wrong_type = await error_of(editor, "logomesh.git.log", [{"count": "many"}])
    assert wrong_type.code == -32602 and wrong_type.data["code"] == "command.invalid_arguments"
    assert "count" in wrong_type.message
    not_an_object = await error_of(editor, "logomesh.git.log", [5])
    assert not_an_object.code == -32602 and "one JSON object of arguments" in not_an_object.message
    bad_folder = await error_of(editor, "logomesh.git.log", [{}, {"folder": 3}])
    assert "folder" in bad_folder.message
    not_ours = await error_of(editor, "editor.action.format", [])
    assert not_ours.data["code"] == "command.unknown" and "logomesh.<command>" in not_ours.message
    run = await error_of(editor, "logomesh.run", [{"name": "git.log"}])
    assert '{"command": NAME' in run.message
    # ...and the server still answers.
    assert (await editor.run("logomesh.git.status"))["ok"] is True


@pytest.mark.asyncio
async def test_a_command_the_user_may_not_run_is_denied_and_recorded(start_editor) -> None:
    editor = await start_editor("vscode", options={"mode": "readonly"})
    denied = await error_of(editor, "logomesh.db.backup", [{}])
    assert denied.code == types.LSPErrorCodes.RequestFailed.value
    assert denied.data["code"] == "command.denied" and "readonly" in denied.message
    (record,) = records_of(editor.workspace, editor.env, "db.backup")
    assert record["outcome"] == "denied" and record["source"] == "lsp"


@pytest.mark.asyncio
async def test_an_unreadable_frame_is_reported_and_the_server_goes_on(start_editor) -> None:
    editor = await start_editor("vscode")
    stdin = editor.client._server.stdin
    body = b'{"jsonrpc": "2.0", "id": 99, "method": '
    stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    await stdin.drain()
    await eventually(lambda: any("could not handle" in m for m in editor.shown()))
    assert (await editor.run("logomesh.git.status"))["ok"] is True


@pytest.mark.asyncio
async def test_a_client_that_goes_away_mid_command_gets_it_cancelled(
    start_editor, project: Path, lsp_env: dict[str, str]
) -> None:
    declare(project, lsp_env, CHATTY)
    editor = await start_editor("vscode")
    server = editor.client._server
    running = asyncio.ensure_future(editor.run("logomesh.chatty"))
    await eventually(chatty_running)
    editor.gone = True
    server.stdin.close()  # the editor crashed: no shutdown, no exit
    await asyncio.wait_for(server.wait(), 30)
    assert not chatty_running()
    running.cancel()
    (record,) = records_of(project, lsp_env, "chatty")
    assert record["outcome"] == "cancelled"


# The real server, with one handler's helper replaced by one that raises, as a bug would.
FAULTY = """
import lsp_server.features.commands as commands
def broken(server, engine):
    raise KeyError("a bug")
commands.available = broken
from lsp_server.__main__ import main
raise SystemExit(main([]))
"""


@pytest.mark.asyncio
async def test_a_crash_inside_a_handler_is_an_error_and_the_server_stays_up(
    start_editor,
) -> None:
    editor = await start_editor("vscode", command=[sys.executable, "-c", FAULTY])
    crashed = await error_of(editor, "logomesh.commands", [{}])
    assert crashed.code == types.ErrorCodes.InternalError.value
    assert "failed unexpectedly (KeyError" in crashed.message
    assert "traceback" not in str(crashed.data)  # it is in the server's log, not the answer
    assert (await editor.run("logomesh.git.status"))["ok"] is True
