"""``codeAction/resolve``: the model's part of a code action, run as an engine command.

*Explain*, *Add a docstring* and *Fix* are listed with only where they apply (``data``); when
a person picks one, the client resolves it and the server sends the code (from the buffer
as the editor has it, unsaved changes included) to ``code.explain``, ``code.docstring`` or
``code.fix`` through :func:`~lsp_server.features.commands.run_request`: authorised, with
progress, cancelled with the request, audited with the model call linked to it.

An edit comes back as a ``WorkspaceEdit`` whose change carries an annotation that needs
confirmation (``ChangeAnnotation.needsConfirmation``) where the client supports annotations,
so the editor shows what the model wrote before applying it; other clients get plain
changes for the document version the action was made for. An explanation is shown with
``window/showMessage``. A failure (no such model, a timeout, an answer that is no usable
edit) is the request's JSON-RPC error with the engine's words, and is shown as well, since
some clients drop a failed resolve silently.
"""

from __future__ import annotations

import asyncio
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server import convert
from lsp_server.workspaces import path_of

if TYPE_CHECKING:
    from pygls.workspace import PositionCodec, ServerTextPosition, TextDocument

    from logomesh.commands.models import CommandResult
    from lsp_server.server import LogoMeshServer

ANNOTATION = "logomesh.model-edit"
# A Python def or class line: the function at the cursor starts at the nearest one above.
DEF = re.compile(r"^\s*(async\s+def|def|class)\s")


class Kind(StrEnum):
    """The kinds of LogoMesh's code actions (a client may ask for some with ``only``)."""

    EXPLAIN = "logomesh.explain"
    DOCSTRING = "refactor.rewrite.logomesh.docstring"
    FIX = "quickfix.logomesh.fix"
    TESTS = "source.logomesh.tests"
    AUDIT = "source.logomesh.audit"
    PLUGIN = "source.logomesh.plugin"
    APPROVE = "quickfix.logomesh.approve"


def register(server: LogoMeshServer) -> None:
    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: LogoMeshServer, action: types.CodeAction) -> types.CodeAction:
        task = asyncio.current_task()
        if task is not None:
            ls.inflight.keep(task)  # a client that goes away cancels it, recorded
        try:
            return await resolved(ls, action)
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as exc:
            from logomesh.errors import LogoMeshError

            if isinstance(exc, LogoMeshError):
                raise convert.response_error(exc.code, exc.user_message) from exc
            raise convert.crashed("codeAction/resolve", exc) from exc


def document_of(ls: LogoMeshServer, uri: str) -> TextDocument:
    """The open document ``uri``; a clear error for one the editor never opened here."""
    document: TextDocument | None = ls.workspace.text_documents.get(uri)
    if document is None:
        raise convert.response_error(
            "lsp.unknown_document",
            f"LogoMesh has not seen {uri}: the editor never opened it with this server "
            "(textDocument/didOpen). Open the file, then ask for its code actions again.",
        )
    return document


def command_of(action: types.CodeAction) -> str | None:
    """The engine command an action runs: ``code.<do>`` or the one ``logomesh.run`` names."""
    data = action.data.get("logomesh") if isinstance(action.data, dict) else None
    if isinstance(data, dict):
        return f"code.{data.get('do')}"
    if action.command is not None and action.command.arguments:
        first = action.command.arguments[0]
        return first.get("command") if isinstance(first, dict) else None
    return None


async def resolved(ls: LogoMeshServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data.get("logomesh") if isinstance(action.data, dict) else None
    if not isinstance(data, dict):
        return action  # a command action: nothing to resolve
    what, uri = data.get("do"), data.get("uri")
    if what not in ("explain", "docstring", "fix") or not isinstance(uri, str):
        raise convert.response_error(
            "lsp.invalid_arguments",
            f"This code action's data is not LogoMesh's ({data!r}); ask for code actions again.",
        )
    document = _unchanged(ls, uri, data.get("version"), "since this code action was offered")
    # Lines and text off the loop: a large document takes a while to split.
    source, codec = document.source, document.position_codec
    target, text = await asyncio.to_thread(_excerpt, source, codec, data, what)
    arguments = _arguments(ls, document, target, text, what, data)
    result = await _run(ls, uri, f"code.{what}", arguments)
    if what == "explain":
        message = f"LogoMesh ({result.data['model']}): {result.data['explanation']}"
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=message)
        )
        return action
    if what == "docstring":
        line = target.start.line + int(result.data["insert_line"])
        at = types.Position(line=line, character=0)
        edit = types.TextEdit(
            range=types.Range(start=at, end=at), new_text=result.data["insert_text"]
        )
        label = f"Docstring written by {result.data['model']}"
    else:
        edit = types.TextEdit(range=target, new_text=result.data["replacement"])
        label = f"Fix written by {result.data['model']}"
    # An edit is for the text the model saw: one typed meanwhile would shift it.
    document = _unchanged(ls, uri, data.get("version"), "while the model wrote the edit")
    action.edit = workspace_edit(ls, document, edit, label)
    return action


def _unchanged(ls: LogoMeshServer, uri: str, version: Any, when: str) -> TextDocument:
    document = document_of(ls, uri)
    if version != document.version:
        raise convert.response_error(
            "lsp.document_changed",
            f"{uri} changed {when} (version {version}, now {document.version}); ask for "
            "code actions again.",
        )
    return document


def _excerpt(
    source: str, codec: PositionCodec, data: dict[str, Any], what: str
) -> tuple[types.Range, str]:
    """The code to send and where it is (client units): the selection for *Explain*; whole
    lines for the rest: the selection's, the diagnostic's, or the Python function at the
    cursor."""
    lines = source.splitlines(True)
    start_line, start_character, end_line, end_character = (int(n) for n in data["range"])
    if what == "explain":
        target = _client_range(data["range"])
    else:
        if what == "docstring" and (start_line, start_character) == (end_line, end_character):
            start_line, end_line = _function_at(lines, start_line)
        elif end_line > start_line and end_character == 0:
            end_line -= 1  # a selection of whole lines ends at the start of the next
        end_line = max(0, min(end_line, len(lines) - 1))
        if end_line + 1 < len(lines):
            end = types.Position(line=end_line + 1, character=0)
        else:
            last = lines[end_line].rstrip("\r\n") if lines else ""
            end = codec.position_to_client_units(
                lines, types.Position(line=end_line, character=len(last))
            )
        target = types.Range(start=types.Position(line=start_line, character=0), end=end)
    server = codec.range_from_client_units(lines, target)
    begin = _offset(lines, server.start)
    return target, source[begin : _offset(lines, server.end)]


def _offset(lines: list[str], position: ServerTextPosition) -> int:
    if position.line >= len(lines):
        return sum(len(line) for line in lines)
    return sum(len(line) for line in lines[: position.line]) + position.character


def _client_range(plain: list[int]) -> types.Range:
    return types.Range(
        start=types.Position(line=plain[0], character=plain[1]),
        end=types.Position(line=plain[2], character=plain[3]),
    )


def _function_at(lines: Any, line: int) -> tuple[int, int]:
    """The def or class at or above ``line``, to the end of its indented block."""
    start = next((n for n in range(min(line, len(lines) - 1), -1, -1) if DEF.match(lines[n])), None)
    if start is None:
        raise convert.response_error(
            "code.no_function", "There is no def or class at the cursor; select the code."
        )
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start
    for n in range(start + 1, len(lines)):
        text = lines[n]
        if not text.strip():
            continue
        if len(text) - len(text.lstrip()) <= indent and not text.lstrip().startswith(
            (")", "]", "}")
        ):
            break
        end = n
    return start, end


def _arguments(
    ls: LogoMeshServer,
    document: TextDocument,
    target: types.Range,
    text: str,
    what: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    from logomesh.code import MAX_EXCERPT

    if what != "fix":
        text = text[: 4 * MAX_EXCERPT]  # the command cuts the prompt to MAX_EXCERPT
    last = target.end.line if target.end.character else target.end.line - 1
    arguments: dict[str, Any] = {
        "path": relative_path(document.uri, ls.workspaces.folder_for(document.uri)),
        "text": text,
        "language": document.language_id or "",
        "range": {
            "start_line": target.start.line + 1,
            "end_line": max(target.start.line, last) + 1,
        },
    }
    if what == "fix":
        code = f" [{data['code']}]" if data.get("code") else ""
        arguments["diagnostic"] = f"{data.get('message') or 'a problem'}{code}"
    return arguments


def relative_path(uri: str, folder: Path) -> str:
    """The file as the engine's commands take it: relative to its workspace folder."""
    path = path_of(uri)
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


async def _run(
    ls: LogoMeshServer, uri: str, command: str, arguments: dict[str, Any]
) -> CommandResult:
    from logomesh.commands.models import CommandRequest, CommandResult
    from lsp_server.running import run_request

    engine = await ls.workspaces.engine_for(uri)
    request = CommandRequest(command, ls.actor, arguments)
    answer = await run_request(ls, engine, request, None, report=lambda done, _always: done)
    if not isinstance(answer, CommandResult):  # waits on a ticket (a policy that confirms reads)
        raise convert.response_error("approval.pending", answer["message"], {"result": answer})
    result = answer
    if not result.ok:
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=convert.summary(result))
        )
        convert.result_or_error(result)
    return result


def workspace_edit(
    ls: LogoMeshServer, document: TextDocument, edit: types.TextEdit, label: str
) -> types.WorkspaceEdit:
    """The edit, annotated as needing confirmation where the client can say so."""
    capabilities = ls.client_capabilities.workspace
    workspace_edit = capabilities.workspace_edit if capabilities else None
    versioned = bool(workspace_edit and workspace_edit.document_changes)
    annotated = bool(workspace_edit and workspace_edit.change_annotation_support)
    if not versioned:
        return types.WorkspaceEdit(changes={document.uri: [edit]})
    identifier = types.OptionalVersionedTextDocumentIdentifier(
        uri=document.uri, version=document.version
    )
    if not annotated:
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])]
        )
    annotation = types.ChangeAnnotation(
        label=label,
        needs_confirmation=True,
        description="Written by a language model: read it before you apply it.",
    )
    marked = types.AnnotatedTextEdit(
        range=edit.range, new_text=edit.new_text, annotation_id=ANNOTATION
    )
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[marked])],
        change_annotations={ANNOTATION: annotation},
    )
