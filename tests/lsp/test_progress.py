"""Long work: $/progress while a DevShell command runs, and cancelling it from the editor.

``chatty`` (tests/lsp/conftest.py) prints a line every 50 ms for a minute; the tests stop it
with ``$/cancelRequest`` and with the progress bar's cancel button, and check that its
process is gone and that the audit trail records the request as cancelled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import CHATTY, declare, eventually
from tests.lsp.test_confirmation import records_of

MARKER = "logomesh-chatty-marker"


@pytest.fixture
def chatty_project(project: Path, lsp_env: dict[str, str]) -> Path:
    declare(project, lsp_env, CHATTY)
    return project


def chatty_running() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if MARKER in (proc.info["cmdline"] or []):
            found.append(proc)
    return found


def reports(editor, token: str) -> list[object]:
    return editor.client.progress_reports.get(token, [])


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_cancel_request_stops_the_command_and_its_process(start_editor) -> None:
    editor = await start_editor("vscode")
    token = "test-token"
    editor.client.progress_reports.setdefault(token, [])  # the client made this token
    protocol = editor.client.protocol
    msg_id = "chatty-1"
    params = types.ExecuteCommandParams(
        command="logomesh.chatty", arguments=[{}], work_done_token=token
    )
    answer = asyncio.ensure_future(
        protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id)
    )
    # The output streams: a begin, then reports carrying the latest line, and log messages.
    await eventually(
        lambda: any(isinstance(r, types.WorkDoneProgressReport) for r in reports(editor, token))
    )
    assert isinstance(reports(editor, token)[0], types.WorkDoneProgressBegin)
    assert any("line" in (r.message or "") for r in reports(editor, token)[1:])
    await eventually(lambda: any("line 1" in m.message for m in editor.client.log_messages))
    assert chatty_running()
    protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as raised:
        await asyncio.wait_for(answer, 15)
    assert raised.value.code == types.LSPErrorCodes.RequestCancelled.value
    await eventually(lambda: not chatty_running(), within=10)
    assert isinstance(reports(editor, token)[-1], types.WorkDoneProgressEnd)
    (record,) = records_of(editor.workspace, editor.env, "chatty")
    assert record["outcome"] == "cancelled"


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_the_progress_cancel_button_cancels_the_command(start_editor) -> None:
    """No token from the client: the server creates one once the command has output."""
    editor = await start_editor("neovim")
    running = asyncio.ensure_future(editor.run("logomesh.chatty"))
    tokens = await eventually(lambda: [t for t, r in editor.client.progress_reports.items() if r])
    (token,) = tokens
    begin = reports(editor, token)[0]
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException) as raised:
        await asyncio.wait_for(running, 15)
    assert raised.value.code == types.LSPErrorCodes.RequestCancelled.value
    await eventually(lambda: not chatty_running(), within=10)
    (record,) = records_of(editor.workspace, editor.env, "chatty")
    assert record["outcome"] == "cancelled"


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_a_quick_command_shows_no_progress(start_editor) -> None:
    editor = await start_editor("vscode")
    await editor.run("logomesh.git.status")  # the first one creates the database: slow
    await asyncio.sleep(0.7)
    editor.client.progress_reports.clear()
    await editor.run("logomesh.git.status")
    await asyncio.sleep(0.7)  # past the moment a slow command's progress would begin
    assert editor.client.progress_reports == {}


@pytest.mark.asyncio
@pytest.mark.usefixtures("chatty_project")
async def test_the_server_answers_while_a_long_command_runs(start_editor) -> None:
    editor = await start_editor("vscode")
    running = asyncio.ensure_future(editor.run("logomesh.chatty"))
    await eventually(lambda: chatty_running())
    quick = await asyncio.wait_for(editor.run("logomesh.git.status"), 10)
    assert quick["ok"] is True and not running.done()
    running.cancel()


@pytest.mark.asyncio
async def test_replies_are_not_lost_while_the_local_model_loads(start_editor) -> None:
    """llama.cpp points fd 1 at /dev/null while it loads a model; the protocol must not be
    on fd 1 then, or the replies the server writes meanwhile vanish and the editor hangs."""
    editor = await start_editor("vscode")
    await editor.run("logomesh.git.status")
    asking = asyncio.ensure_future(
        editor.run("logomesh.llm.ask", {"prompt": "Say hello.", "max_tokens": 8})
    )
    answered = 0
    while not asking.done():
        # A request answered on the loop at once: an invalid-params error.
        with pytest.raises(JsonRpcException):
            await asyncio.wait_for(editor.run("logomesh.run"), 10)
        answered += 1
        await asyncio.sleep(0.01)
    assert (await asking)["ok"] is True
    assert answered > 5  # the model took a while to load: replies were written meanwhile
