"""``textDocument/codeAction``: what LogoMesh can do with the code at hand, listed at once.

The list is built from what the server already has (the document, the diagnostics the
client sends, the pending tickets, the folder's engine if it is built) and never calls a
model, so it answers in a few milliseconds even while the editor asks on every cursor move.
The model runs only when a person picks *Explain*, *Add a docstring* or *Fix*: in
``codeAction/resolve`` (:mod:`lsp_server.features.code_resolve`), as an engine command.

The other actions are commands the client runs through ``logomesh.run`` (advertised at
``initialize``, so every client may run it): the tests for the file, an audit search for
it, each plugin code action that matches the file, and *Approve* for each ticket a request
of this server waits on. Every one of them goes through the engine, authorised and audited;
the engine's policy also filters the list when the folder's engine is built.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server import convert
from lsp_server.features import code_resolve
from lsp_server.features.code_resolve import DEF, Kind, document_of, relative_path

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

    from logomesh.engine import Engine
    from lsp_server.server import LogoMeshServer

KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
    Kind.EXPLAIN,
]
# Beyond this, a document is not scanned for a function (splitting it into lines would
# hold the loop): only the actions that need no text are offered.
MAX_SCANNED = 2_000_000
_TEST_FILE = re.compile(r"(^test_.*\.py$|_test\.py$|_test\.go$|\.(test|spec)\.[jt]sx?$)")


def register(server: LogoMeshServer) -> None:
    options = types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=True)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    async def code_action(
        ls: LogoMeshServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        try:
            actions = await listed(ls, params)
        except JsonRpcException:
            raise
        except Exception as exc:
            raise convert.crashed("textDocument/codeAction", exc) from exc
        only = params.context.only
        if only:
            actions = [a for a in actions if a.kind and any(_within(a.kind, k) for k in only)]
        return actions or None

    code_resolve.register(server)


async def listed(ls: LogoMeshServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = document_of(ls, uri)
    built = ls.workspaces.ready(uri)
    engine = built.engine if built is not None else None
    folder = ls.workspaces.folder_for(uri)
    relative = relative_path(uri, folder)
    actions = _model_actions(ls, document, params)
    actions += await asyncio.to_thread(_test_actions, folder, relative)
    actions.append(_run("Search the audit trail for this file", Kind.AUDIT, "audit.search",
                        {"query": relative}, folder))  # fmt: skip
    if engine is not None:
        actions += _plugin_actions(ls, engine, document, params.range, relative, folder)
    actions += _approvals(ls, folder)
    return _allowed(ls, engine, actions) if engine is not None else actions


def _model_actions(
    ls: LogoMeshServer, document: TextDocument, params: types.CodeActionParams
) -> list[types.CodeAction]:
    from logomesh.code import docstrings, language_of

    data = {"uri": document.uri, "version": document.version, "range": _plain(params.range)}
    selected = params.range.start != params.range.end
    actions = []
    if selected:
        actions.append(_resolvable("Explain this code", Kind.EXPLAIN, {**data, "do": "explain"}))
    language = language_of(document.uri, document.language_id or "")
    if docstrings.supports(language) and (
        selected or (language == "python" and _def_above(document, params.range.start.line))
    ):
        actions.append(_resolvable("Add a docstring", Kind.DOCSTRING, {**data, "do": "docstring"}))
    for diagnostic in params.context.diagnostics:
        title = f"Fix: {diagnostic.message.splitlines()[0][:70]}" if diagnostic.message else "Fix"
        fix = {**data, "do": "fix", "range": _plain(diagnostic.range),
               "message": diagnostic.message, "code": _code(diagnostic)}  # fmt: skip
        action = _resolvable(title, Kind.FIX, fix)
        action.diagnostics = [diagnostic]
        actions.append(action)
    return actions


def _def_above(document: TextDocument, line: int) -> bool:
    """A def or class on ``line`` or within the 200 lines above (the function at the cursor)."""
    if len(document.source) > MAX_SCANNED:
        return False
    lines = document.lines
    return any(
        DEF.match(lines[n]) for n in range(min(line, len(lines) - 1), max(-1, line - 200), -1)
    )


def _test_actions(folder: Path, relative: str) -> list[types.CodeAction]:
    """*Run the tests for this file*: the file itself if it is a test, else its tests by the
    usual names (tests/test_x.py, tests/<path>/test_x.py, x_test.py beside it)."""
    path = PurePosixPath(relative)
    if _TEST_FILE.search(path.name):
        found = relative
    else:
        candidates = [
            path.with_name(f"test_{path.stem}.py"),
            PurePosixPath("tests", f"test_{path.stem}.py"),
            PurePosixPath("tests", *path.parts[1:-1], f"test_{path.stem}.py"),
            path.with_name(f"{path.stem}_test{path.suffix}"),
        ]
        exists = [c for c in candidates if (folder / c).is_file()]
        if not exists:
            return []
        found = str(exists[0])
    return [_run("Run the tests for this file", Kind.TESTS, "tests.run", {"path": found}, folder)]


def _plugin_actions(
    ls: LogoMeshServer,
    engine: Engine,
    document: TextDocument,
    selection: types.Range,
    relative: str,
    folder: Path,
) -> list[types.CodeAction]:
    """Each plugin code action whose ``files`` match, once its command's schema is known."""
    actions = []
    for plugin in list(engine.plugins.plugins.values()):
        manifest = plugin.found.manifest
        if manifest is None or plugin.found.error is not None:
            continue
        for contribution in manifest.contributes.code_actions:
            if not any(PurePosixPath(relative).match(glob) for glob in contribution.files):
                continue
            command = _command_of(engine, plugin.name, contribution.command)
            if command is None:
                continue
            arguments = _plugin_arguments(engine, command, document, selection, relative)
            if arguments is not None:
                title = contribution.title
                actions.append(_run(title, Kind.PLUGIN, command, arguments, folder))
    return actions


def _command_of(engine: Engine, plugin: str, name: str) -> str | None:
    for command in (name, f"{plugin}.{name}"):
        if command in engine.registry:
            return command
    return None


def _plugin_arguments(
    engine: Engine, command: str, document: TextDocument, selection: types.Range, relative: str
) -> dict[str, Any] | None:
    """The file and selection under the names the command's schema has for them; None while
    the schema is unknown (the plugin has not started) or asks for what we cannot give."""
    spec = engine.registry.get(command)
    if spec.prepare is not None:
        return None
    schema = spec.args_model.model_json_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    values: dict[str, Any] = {
        **dict.fromkeys(("path", "file", "filename", "file_path", "filepath"), relative),
        "uri": document.uri,
        **dict.fromkeys(("language", "language_id"), document.language_id or ""),
        **dict.fromkeys(("line", "start_line"), selection.start.line + 1),
        "end_line": selection.end.line + 1,
    }
    if selection.start != selection.end and len(document.source) <= MAX_SCANNED:
        from logomesh.code import MAX_EXCERPT

        text = document.text_in_client_range(selection)[:MAX_EXCERPT]
        values |= dict.fromkeys(("text", "selection", "code", "source", "content"), text)
    arguments = {name: values[name] for name in properties if name in values}
    if any(name not in arguments for name in schema.get("required", [])):
        return None
    return arguments


def _approvals(ls: LogoMeshServer, folder: Path) -> list[types.CodeAction]:
    return [
        _run(f"Approve {event.command} (ticket {event.ticket_id}, {event.risk} risk)",
             Kind.APPROVE, "approvals.approve", {"id": event.ticket_id}, folder)
        for event in ls.inflight.tickets()
    ]  # fmt: skip


def _allowed(
    ls: LogoMeshServer, engine: Engine, actions: list[types.CodeAction]
) -> list[types.CodeAction]:
    """Leave out what the engine would refuse this person here (one in-memory check each:
    the policy, and a restricted workspace's refusal of what runs its code)."""
    identity = engine.identities.resolve(ls.actor)
    kept = []
    for action in actions:
        name = code_resolve.command_of(action)
        spec = engine.registry.get(name) if name and name in engine.registry else None
        if spec is None or engine.permits(identity, spec):
            kept.append(action)
    return kept


def _resolvable(title: str, kind: str, data: dict[str, Any]) -> types.CodeAction:
    return types.CodeAction(title=f"LogoMesh: {title}", kind=kind, data={"logomesh": data})


def _run(
    title: str, kind: str, command: str, arguments: dict[str, Any], folder: Path
) -> types.CodeAction:
    """An action that runs ``command`` through ``logomesh.run``, in the file's folder."""
    run = types.Command(
        title=title,
        command="logomesh.run",
        arguments=[{"command": command, "arguments": arguments}, {"folder": folder.as_uri()}],
    )
    return types.CodeAction(title=f"LogoMesh: {title}", kind=kind, command=run)


def _plain(selection: types.Range) -> list[int]:
    return [selection.start.line, selection.start.character,
            selection.end.line, selection.end.character]  # fmt: skip


def _code(diagnostic: types.Diagnostic) -> str | None:
    return None if diagnostic.code is None else str(diagnostic.code)


def _within(kind: str, wanted: str) -> bool:
    return kind == wanted or kind.startswith(f"{wanted}.")
