"""Diagnostics: DevShell's lint.check (ruff) on open and save, pushed or pulled, debounced.

Every lint is a real ``lint.check`` through the engine (the project's ruff on the saved
file), so each one is an audit record with source lsp: the tests count those records to
see how many checks ran.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import Editor, capabilities_of, eventually

# ruff lives in the virtualenv; the server finds it on PATH, as in an activated venv.
VENV_PATH = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
BAD = "import os\n\n\ndef f():\n    return undefined_name\n"
GOOD = "def f():\n    return 1\n"
FAST = {"lintDebounceMs": 0}


def opened(editor: Editor, path: Path, language: str = "python", text: str | None = None) -> str:
    uri = path.as_uri()
    content = path.read_text(encoding="utf-8") if text is None else text
    item = types.TextDocumentItem(uri=uri, language_id=language, version=1, text=content)
    editor.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    return uri


def saved(editor: Editor, uri: str) -> None:
    document = types.TextDocumentIdentifier(uri=uri)
    editor.client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=document))


async def lint_records(editor: Editor) -> list[dict[str, Any]]:
    listed = await editor.run("logomesh.audit.query", {"action": "lint.check", "limit": 100})
    records: list[dict[str, Any]] = listed["data"]
    return records


async def pull(editor: Editor, uri: str, previous: str | None = None) -> Any:
    params = types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri), previous_result_id=previous
    )
    return await editor.client.text_document_diagnostic_async(params)


def cleared(editor: Editor, uri: str) -> bool:
    """Whether the last diagnostics pushed for ``uri`` were none."""
    return uri in editor.client.diagnostics and len(editor.client.diagnostics[uri]) == 0


def codes(diagnostics: Any) -> set[str]:
    return {str(d.code) for d in diagnostics}


def pull_capabilities() -> types.ClientCapabilities:
    """Neovim 0.11 plus the workspace/diagnostic/refresh support VS Code's language client
    declares (vscode-languageclient's DiagnosticFeature): a client the server can tell
    to pull again after a save."""
    capabilities = capabilities_of("neovim")
    assert capabilities.workspace is not None
    capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(
        refresh_support=True
    )
    return capabilities


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ["vscode", "neovim", "helix", "helix-master"])
async def test_ruff_problems_are_pushed_on_open_and_save(start_editor, client: str) -> None:
    """Clients that cannot be asked to pull again get publishDiagnostics: Neovim 0.11 and
    Helix master declare pulls but no refresh, and pull only on open and change, so a
    save's results would wait for the next edit."""
    editor = await start_editor(client, env=VENV_PATH, options=FAST)
    assert editor.initialized is not None
    assert editor.initialized.capabilities.diagnostic_provider is None
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    found = await eventually(lambda: editor.client.diagnostics.get(uri))
    assert codes(found) == {"F401", "F821"}
    unused = next(d for d in found if d.code == "F401")
    assert unused.range == types.Range(
        start=types.Position(line=0, character=7), end=types.Position(line=0, character=9)
    )
    assert unused.severity == types.DiagnosticSeverity.Warning
    assert unused.source == "logomesh/ruff" and "`os` imported but unused" in unused.message
    path.write_text(GOOD, encoding="utf-8")
    saved(editor, uri)
    await eventually(lambda: cleared(editor, uri))
    records = await lint_records(editor)
    assert len(records) == 2 and {r["source"] for r in records} == {"lsp"}
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


@pytest.mark.asyncio
async def test_close_clears_what_was_pushed(start_editor) -> None:
    editor = await start_editor("vscode", env=VENV_PATH, options=FAST)
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    await eventually(lambda: editor.client.diagnostics.get(uri))
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await eventually(lambda: cleared(editor, uri))


@pytest.mark.asyncio
async def test_a_syntax_error_is_an_error_at_its_place(start_editor) -> None:
    editor = await start_editor("helix", env=VENV_PATH, options=FAST)
    path = editor.workspace / "broken.py"
    path.write_text('s = "éé😋"; x = (\n', encoding="utf-8")
    uri = opened(editor, path)
    found = await eventually(lambda: editor.client.diagnostics.get(uri))
    assert {d.severity for d in found} == {types.DiagnosticSeverity.Error}


@pytest.mark.asyncio
async def test_columns_are_in_the_clients_position_encoding(start_editor) -> None:
    """ruff counts characters; VS Code counts UTF-16 units (the emoji is two)."""
    editor = await start_editor("vscode", env=VENV_PATH, options=FAST)
    path = editor.workspace / "wide.py"
    path.write_text('s = "é😋"; import os\n', encoding="utf-8")
    uri = opened(editor, path)
    found = await eventually(lambda: editor.client.diagnostics.get(uri))
    unused = next(d for d in found if d.code == "F401")
    assert (unused.range.start.character, unused.range.end.character) == (18, 20)


@pytest.mark.asyncio
async def test_quick_saves_are_one_lint_run(start_editor) -> None:
    """Four saves within the debounce window: the checks they supersede never start."""
    editor = await start_editor("vscode", env=VENV_PATH, options={"lintDebounceMs": 300})
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    await eventually(lambda: editor.client.diagnostics.get(uri))
    assert len(await lint_records(editor)) == 1
    path.write_text(GOOD, encoding="utf-8")
    for _ in range(4):
        saved(editor, uri)
        await asyncio.sleep(0.02)
    await eventually(lambda: cleared(editor, uri))
    await asyncio.sleep(0.5)  # past another debounce window: nothing more may run
    records = await lint_records(editor)
    assert [r["outcome"] for r in records] == ["ok", "ok"]


@pytest.mark.asyncio
async def test_a_save_cancels_the_check_it_supersedes(start_editor) -> None:
    """The project's ruff (its .venv, which DevShell prefers) takes a second here: each
    save while a check runs cancels it (the engine records it as cancelled, DevShell stops
    its process group), and only the newest check publishes."""
    editor = await start_editor("vscode", env=VENV_PATH, options=FAST)
    tools = editor.workspace / ".venv" / "bin"
    tools.mkdir(parents=True)
    slow = tools / "ruff"
    ruff = Path(sys.executable).parent / "ruff"
    slow.write_text(f'#!/bin/sh\nsleep 1\nexec {ruff} "$@"\n', encoding="utf-8")
    slow.chmod(0o755)
    await editor.run("logomesh.status")  # the engine is built: the open's check starts at once
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    for _ in range(2):
        await asyncio.sleep(0.3)
        saved(editor, uri)
    found = await eventually(lambda: editor.client.diagnostics.get(uri))
    assert codes(found) == {"F401", "F821"}
    records = await lint_records(editor)
    assert sorted(r["outcome"] for r in records) == ["cancelled", "cancelled", "ok"]


@pytest.mark.asyncio
async def test_diagnostics_off_lints_nothing(start_editor) -> None:
    editor = await start_editor(
        "vscode", env=VENV_PATH, options={"diagnostics": False, "lintDebounceMs": 0}
    )
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    saved(editor, uri)
    await asyncio.sleep(1.5)
    assert uri not in editor.client.diagnostics
    assert await lint_records(editor) == []


@pytest.mark.asyncio
async def test_a_client_that_pulls_gets_results_by_id_and_no_pushes(start_editor) -> None:
    editor = await start_editor("neovim", capabilities=pull_capabilities(), env=VENV_PATH)
    assert editor.initialized is not None
    assert editor.initialized.capabilities.diagnostic_provider is not None
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)
    first = await pull(editor, uri)  # waits for the check the open started
    assert first.kind == "full" and codes(first.items) == {"F401", "F821"}
    assert first.result_id
    again = await pull(editor, uri, previous=first.result_id)
    assert again.kind == "unchanged" and again.result_id == first.result_id
    refreshed = editor.client.diagnostic_refresh_count
    path.write_text(GOOD, encoding="utf-8")
    saved(editor, uri)
    # The save's check changed the result: the client is asked to pull again.
    await eventually(lambda: editor.client.diagnostic_refresh_count > refreshed)
    fixed = await pull(editor, uri, previous=first.result_id)
    assert fixed.kind == "full" and len(fixed.items) == 0 and fixed.result_id != first.result_id
    assert uri not in editor.client.diagnostics  # pulled, never pushed as well
    assert len(await lint_records(editor)) == 2


@pytest.mark.asyncio
async def test_a_pull_for_a_document_never_opened_says_to_open_it(start_editor) -> None:
    editor = await start_editor("neovim", capabilities=pull_capabilities(), env=VENV_PATH)
    uri = (editor.workspace / "never.py").as_uri()
    with pytest.raises(JsonRpcException) as raised:
        await pull(editor, uri)
    assert raised.value.code == -32602
    assert uri in raised.value.message and "didOpen" in raised.value.message
    assert raised.value.data["code"] == "lsp.unknown_document"


@pytest.mark.asyncio
async def test_files_it_does_not_lint_are_skipped_and_said_so(start_editor, tmp_path) -> None:
    """A text file (ruff would lint it as Python if asked) and a file outside every
    workspace folder: nothing published, no check run, one log line each."""
    editor = await start_editor("vscode", env=VENV_PATH, options=FAST)
    notes = editor.workspace / "notes.txt"
    notes.write_text("import os\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "script.py"
    outside.write_text(BAD, encoding="utf-8")
    skipped = [opened(editor, notes, language="plaintext"), opened(editor, outside)]
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)  # linted after the two above were handled
    await eventually(lambda: editor.client.diagnostics.get(uri))
    assert not any(editor.client.diagnostics.get(other) for other in skipped)
    records = await lint_records(editor)
    assert [r["target"] for r in records] == ["mod.py"]
    logged = [m.message for m in editor.client.log_messages]
    assert any("outside every workspace folder" in m and str(outside) in m for m in logged)


def _memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


@pytest.mark.asyncio
async def test_a_50_mb_document_is_not_linted_and_nothing_hangs(start_editor) -> None:
    editor = await start_editor("vscode", env=VENV_PATH, options=FAST)
    await editor.run("logomesh.status")  # the engine is built: measure the document alone
    server = editor.client._server
    assert server is not None
    before = _memory_kb(server.pid)
    path = editor.workspace / "huge.py"
    text = "x = 1\n" * (50 * 1024 * 1024 // 6)
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    uri = opened(editor, path, text=text)
    del text
    found = await eventually(lambda: editor.client.diagnostics.get(uri), within=60)
    elapsed = time.perf_counter() - started
    after = _memory_kb(server.pid)
    print(
        f"\n50 MB didOpen: {elapsed:.2f} s to the diagnostic; server RSS "
        f"{before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MB, "
        f"peak {before['VmHWM'] // 1024} -> {after['VmHWM'] // 1024} MB"
    )
    assert len(found) == 1 and found[0].severity == types.DiagnosticSeverity.Warning
    assert "50.0 MB" in found[0].message and "not linted" in found[0].message
    assert await lint_records(editor) == []
    answered = time.perf_counter()
    await editor.run("logomesh.commands")  # the server still answers at once
    assert time.perf_counter() - answered < 5
    assert elapsed < 20
    # The text is held once (pygls' copy of the document) plus parsing; not many copies.
    assert after["VmHWM"] - before["VmHWM"] < 400 * 1024


@pytest.mark.asyncio
async def test_a_missing_linter_is_said_once_not_at_every_save(start_editor) -> None:
    editor = await start_editor("helix", env={"PATH": "/usr/bin:/bin"}, options=FAST)
    path = editor.workspace / "mod.py"
    path.write_text(BAD, encoding="utf-8")
    uri = opened(editor, path)

    def failures() -> list[str]:
        return [m.message for m in editor.client.log_messages if "could not lint" in m.message]

    await eventually(failures)
    saved(editor, uri)
    await eventually(lambda: len(failures()) == 2)  # logged each time...
    told = [m for m in editor.shown() if "could not lint mod.py" in m]
    assert len(told) == 1  # ...shown once
    assert "`ruff` is not installed" in told[0] and "pip install ruff" in told[0]
    records = await lint_records(editor)
    assert [r["outcome"] for r in records] == ["error", "error"]
    assert uri not in editor.client.diagnostics
