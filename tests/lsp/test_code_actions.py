"""Code actions: listed at once without a model, resolved by the model through the engine.

The model is real: the local Gemma (the default for code actions), or, where a test needs a
known answer or a model that hangs, a chat model served by the loopback OpenAI stand-in
that the workspace's logomesh.toml declares, exactly as a team would declare its own.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import trust_now
from tests.llm.fake_openai import FakeOpenAIServer, Fault
from tests.lsp.conftest import Editor, eventually

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
CALC = """def add(a, b):
    password = "hunter2"
    return a + b


def sub(a, b):
    return a - c
"""
MODEL_CACHE = {"LOGOMESH_NL__MODEL_CACHE_DIR": str(Path.home() / ".cache/logomesh/models")}


def write(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def opened(editor: Editor, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    item = types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text or path.read_text(encoding="utf-8")
    )
    editor.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    return uri


def span(start: int, start_char: int, end: int, end_char: int) -> types.Range:
    return types.Range(
        start=types.Position(line=start, character=start_char),
        end=types.Position(line=end, character=end_char),
    )


def read_code_actions_right(editor: Editor) -> None:
    """lsprotocol 2025.0.0 reads every listed item that has a ``command`` key as a Command,
    so a CodeAction that runs a command came back as a Command whose name was the whole
    object: this test client reads a Command only where ``command`` is its name."""
    converter = editor.client.protocol._converter

    def structure(value: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007


async def actions(
    editor: Editor, uri: str, where: types.Range, diagnostics: list[types.Diagnostic] | None = None
) -> dict[str, types.CodeAction]:
    read_code_actions_right(editor)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=where,
        context=types.CodeActionContext(diagnostics=diagnostics or []),
    )
    listed = await editor.client.text_document_code_action_async(params) or []
    assert all(isinstance(action, types.CodeAction) for action in listed), listed
    return {action.title: action for action in listed if isinstance(action, types.CodeAction)}


async def records(editor: Editor, **filters: Any) -> list[dict[str, Any]]:
    result = await editor.run("logomesh.audit.query", {"limit": 100, **filters})
    return list(result["data"])


def undefined_c() -> types.Diagnostic:
    return types.Diagnostic(range=span(6, 15, 6, 16), message="F821 undefined name 'c'",
                            source="ruff", code="F821")  # fmt: skip


@pytest.fixture
def coder(project: Path, lsp_env: dict[str, str]) -> Any:
    """A chat model at the stand-in, declared in the workspace and made the code-actions
    default (the workspace is trusted again: its logomesh.toml now declares a model)."""
    with FakeOpenAIServer() as server:
        write(project, "logomesh.toml", f"""
[[llm.models]]
name = "team-coder"
provider = "openai-compatible"
options = {{ base_url = "{server.base_url}", model = "coder" }}
timeout_s = 30

[llm.defaults]
code_actions = "team-coder"

[llm.retry]
attempts = 1
""")  # fmt: skip
        trust_now(project, lsp_env)
        yield server


@pytest.mark.asyncio
async def test_the_list_answers_at_once_without_a_model(start_editor, project: Path) -> None:
    calc = write(project, "calc.py", CALC)
    write(project, "tests/test_calc.py", "from calc import add\n")
    editor = await start_editor("vscode")
    uri = opened(editor, calc)
    # Asked at once: the folder's engine is still being built; nothing waits for it.
    listed = await actions(editor, uri, span(0, 0, 2, 16), [undefined_c()])
    assert set(listed) >= {
        "LogoMesh: Explain this code",
        "LogoMesh: Add a docstring",
        "LogoMesh: Fix: F821 undefined name 'c'",
        "LogoMesh: Run the tests for this file",
        "LogoMesh: Search the audit trail for this file",
    }
    tests = listed["LogoMesh: Run the tests for this file"].command
    assert tests is not None and tests.command == "logomesh.run"
    assert list(tests.arguments or []) == [
        {"command": "tests.run", "arguments": {"path": "tests/test_calc.py"}},
        {"folder": project.as_uri()},
    ]
    fix = listed["LogoMesh: Fix: F821 undefined name 'c'"]
    assert fix.kind == "quickfix.logomesh.fix" and fix.edit is None and fix.diagnostics
    caps = editor.initialized.capabilities.code_action_provider  # type: ignore[union-attr]
    assert isinstance(caps, types.CodeActionOptions) and caps.resolve_provider is True
    # Only what the client asks for; at the cursor, the function around it for a docstring.
    only = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=span(2, 4, 2, 4),
        context=types.CodeActionContext(diagnostics=[], only=["refactor.rewrite"]),
    )  # fmt: skip
    [docstring] = await editor.client.text_document_code_action_async(only) or []
    assert isinstance(docstring, types.CodeAction) and docstring.title.endswith("docstring")
    # Listing again, warm, calls no model either (how fast it answers is measured by
    # `make bench`, "the language server": codeAction p95, not asserted here).
    await actions(editor, uri, span(0, 0, 2, 16), [undefined_c()])
    assert await records(editor, action="llm.call") == []


@pytest.mark.asyncio
async def test_explain_and_docstring_run_the_local_model_audited_and_redacted(
    start_editor, project: Path
) -> None:
    calc = write(project, "calc.py", CALC)
    editor = await start_editor("vscode", env=MODEL_CACHE)
    uri = opened(editor, calc)
    listed = await actions(editor, uri, span(0, 0, 3, 0))
    explain = await editor.client.code_action_resolve_async(listed["LogoMesh: Explain this code"])
    assert explain.edit is None
    said = await eventually(lambda: [m for m in editor.shown() if "gemma-3-270m" in m])
    assert len(said[0]) > len("LogoMesh (gemma-3-270m): ")
    [command] = await records(editor, action="code.explain")
    assert command["outcome"] == "ok" and command["source"] == "lsp"
    linked = await records(editor, correlation_id=command["correlation_id"], payloads=True)
    [call] = [r for r in linked if r["action"] == "llm.call"]
    assert call["model"] == "gemma-3-270m" and "def add(a, b):" in call["prompt"]
    everything = json.dumps(await records(editor, payloads=True))
    assert "hunter2" not in everything and "[REDACTED]" in everything

    docstring = await editor.client.code_action_resolve_async(
        (await actions(editor, uri, span(1, 4, 1, 4)))["LogoMesh: Add a docstring"]
    )
    edit = docstring.edit
    assert edit is not None and edit.document_changes and edit.change_annotations
    [change] = edit.document_changes
    assert isinstance(change, types.TextDocumentEdit) and change.text_document.version == 1
    [insert] = change.edits
    assert isinstance(insert, types.AnnotatedTextEdit)
    assert insert.range.start == insert.range.end == types.Position(line=1, character=0)
    assert insert.new_text.startswith('    """') and insert.new_text.endswith('"""\n')
    assert edit.change_annotations[insert.annotation_id].needs_confirmation is True


@pytest.mark.asyncio
async def test_a_fix_without_annotations_is_plain_changes_refused_if_typed_over_or_cancelled(
    start_editor, project: Path, coder: FakeOpenAIServer
) -> None:
    calc = write(project, "calc.py", CALC)
    editor = await start_editor("neovim")
    uri = opened(editor, calc)
    coder.reply = "```python\n    return a - b\n```"
    listed = await actions(editor, uri, span(6, 15, 6, 16), [undefined_c()])
    fix_title = "LogoMesh: Fix: F821 undefined name 'c'"
    fixed = await editor.client.code_action_resolve_async(listed[fix_title])
    assert fixed.edit is not None and fixed.edit.change_annotations is None
    # The last line has no line after it: its text is replaced, its line end kept.
    edits = {key: list(value) for key, value in (fixed.edit.changes or {}).items()}
    assert edits == {uri: [types.TextEdit(range=span(6, 0, 6, 16), new_text="    return a - b")]}
    assert "F821 undefined name 'c'" in str(coder.requests[-1]["messages"])

    # A change typed while the model writes: the edit would land on other text; refused.
    coder.script(Fault("slow", delay_s=1.5))
    again = (await actions(editor, uri, span(6, 15, 6, 16), [undefined_c()]))[fix_title]
    typed = asyncio.ensure_future(editor.client.code_action_resolve_async(again))
    await eventually(lambda: coder.in_flight)
    editor.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n" + CALC)],
        )
    )
    with pytest.raises(JsonRpcException) as changed:
        await typed
    assert "changed while the model wrote the edit" in changed.value.message

    coder.script(Fault("slow", delay_s=20))
    explain = (await actions(editor, uri, span(4, 0, 6, 16)))["LogoMesh: Explain this code"]
    protocol = editor.client.protocol
    pending = asyncio.ensure_future(
        protocol.send_request_async(types.CODE_ACTION_RESOLVE, explain, msg_id="slow")
    )
    await eventually(lambda: coder.in_flight)
    protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow"))
    with pytest.raises(JsonRpcException):
        await pending
    # Recorded before the error was sent: the engine writes the record, then ends.
    explained = await records(editor, action="code.explain")
    assert [r["outcome"] for r in explained] == ["cancelled"]


@pytest.mark.asyncio
async def test_a_model_that_is_not_there_is_named_in_the_error(start_editor, project: Path) -> None:
    calc = write(project, "calc.py", CALC)
    editor = await start_editor("helix", options={"models": {"code_actions": "no-such-model"}})
    uri = opened(editor, calc)
    listed = await actions(editor, uri, span(0, 0, 2, 16))
    with pytest.raises(JsonRpcException) as raised:
        await editor.client.code_action_resolve_async(listed["LogoMesh: Explain this code"])
    assert raised.value.data["code"] == "llm.unknown_model"
    assert "no-such-model" in raised.value.message and "logomesh llm list" in raised.value.message
    assert "models.code_actions" in raised.value.message  # the setting that picks another
    await eventually(lambda: [m for m in editor.shown() if "no-such-model" in m])


@pytest.mark.asyncio
async def test_documents_never_seen_changed_or_closed_are_named(
    start_editor, project: Path
) -> None:
    editor = await start_editor("vscode")
    unseen = (project / "nowhere.py").as_uri()
    with pytest.raises(JsonRpcException) as raised:
        await actions(editor, unseen, span(0, 0, 0, 0))
    assert unseen in raised.value.message and "didOpen" in raised.value.message
    assert raised.value.data["code"] == "lsp.unknown_document"

    uri = opened(editor, write(project, "calc.py", CALC))
    explain = (await actions(editor, uri, span(0, 0, 2, 16)))["LogoMesh: Explain this code"]
    editor.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=CALC + "\n")],
        )
    )
    with pytest.raises(JsonRpcException) as changed:
        await editor.client.code_action_resolve_async(explain)
    assert changed.value.data["code"] == "lsp.document_changed"
    assert "version 1, now 2" in changed.value.message
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    with pytest.raises(JsonRpcException) as closed:
        await editor.client.code_action_resolve_async(explain)
    assert closed.value.data["code"] == "lsp.unknown_document" and uri in closed.value.message
    assert await records(editor, action="code.explain") == []  # nothing ran


@pytest.mark.asyncio
async def test_plugin_code_actions_and_approvals_run_through_logomesh_run(
    start_editor, project: Path, lsp_env: dict[str, str]
) -> None:
    shutil.copytree(REPO_PLUGINS / "todo-finder", project / "plugins" / "todo-finder")
    calc = write(project, "calc.py", "# TODO(ann): handle overflow\n" + CALC)
    git_add = ["git", "-C", str(project), "add", "calc.py"]  # todos.find reads git's files
    await asyncio.to_thread(subprocess.run, git_add, check=True)
    trust_now(project, lsp_env)
    editor = await start_editor("helix")
    uri = opened(editor, calc)
    title = "LogoMesh: Find the TODOs in this file"

    async def listed() -> dict[str, types.CodeAction]:
        return await actions(editor, uri, span(0, 0, 0, 0))

    found: dict[str, types.CodeAction] = {}
    async with asyncio.timeout(30):
        while title not in found:  # offered once the plugin has started and told its schema
            found = await listed()
    todos = found[title].command
    assert todos is not None and list(todos.arguments or []) == [
        {"command": "todos.find", "arguments": {"path": "calc.py"}},
        {"folder": project.as_uri()},
    ]
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=todos.command, arguments=todos.arguments)
    )
    assert result["ok"] and "handle overflow" in json.dumps(result["data"])

    # Helix cannot prompt: a danger command waits on its ticket, offered as a code action.
    waiting = await editor.run("logomesh.audit.prune", {"payloads_older_than": "90d"})
    assert waiting["outcome"] == "pending"
    ticket = waiting["ticket"]["id"]
    approve = next(a for t, a in (await listed()).items() if ticket in t).command
    assert approve is not None and approve.arguments[0] == {
        "command": "approvals.approve", "arguments": {"id": ticket},
    }  # fmt: skip
    approved = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=approve.command, arguments=approve.arguments)
    )
    assert approved["ok"]
    await eventually(lambda: [m for m in editor.shown() if "audit.prune" in m])
    assert not [t for t in await listed() if ticket in t]
