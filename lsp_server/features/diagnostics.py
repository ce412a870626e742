"""Diagnostics: DevShell's ``lint.check`` (ruff) on each Python document the editor opens
or saves, pushed with ``textDocument/publishDiagnostics`` or answered to pulls.

What is linted is **the file on disk**, as saved: ``lint.check`` runs the project's own
ruff on a path, through the engine (authorised, audited with source lsp), exactly as
``logomesh run lint.check path=FILE`` would. Unsaved edits are not linted; the results
of the last open or save stay shown until the next save. (Linting the buffer would need
ruff to read stdin, a change to the DevShell command.)

- **Debounced per document:** a check starts ``lintDebounceMs`` (300 ms) after the open or
  save; a newer save cancels the check still waiting or running (the engine records a
  running one as cancelled, and DevShell stops ruff's process group).
- **Push or pull, never both** (LSP's either/or rule). A client that pulls
  (``textDocument.diagnostic``) *and* can be asked to pull again
  (``workspace.diagnostics.refreshSupport``) is given ``diagnosticProvider`` and asked to
  refresh after a check changed something; every other client is pushed to. Neovim 0.11
  declares pulls but no refresh, and pulls only on open and change: pulled, a save's
  results would wait for the next keystroke, so it is pushed to. The choice is made at
  ``initialize``, before pygls builds the capabilities.
- **Skipped, and said so once in the log:** documents that are not Python (ruff would
  lint any file named to it as Python), files outside every workspace folder (no engine
  and no policy covers them), documents that are not files. A document above
  :data:`MAX_LINT_BYTES` gets one warning diagnostic instead of a check.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_server import convert
from lsp_server.workspaces import path_of

if TYPE_CHECKING:
    from logomesh.commands.models import CommandResult
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)

# Above this a document is not linted: a generated or data file, whose thousands of
# problems (ruff's report is cut at 8 MB) nobody reads in an editor.
MAX_LINT_BYTES = 4 * 1024 * 1024
PYTHON_SUFFIXES = (".py", ".pyi")
MB = 1024 * 1024


@dataclass(eq=False, slots=True)
class Document:
    """An open document and what was last found in it."""

    uri: str
    path: Path | None
    # Why it is never linted; None when it is.
    skip: str | None
    task: asyncio.Task[None] | None = None
    items: list[types.Diagnostic] = field(default_factory=list)
    result_id: str | None = None


def register(server: LogoMeshServer) -> None:
    lints = Lints(server)
    server.on_initialize.append(lints.initialize)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: LogoMeshServer, params: types.DidOpenTextDocumentParams) -> None:
        lints.opened(params.text_document)

    # didSave is lsp_server.features.documents', which tells every feature that cares.
    async def lint_saved(ls: LogoMeshServer, uri: str) -> None:
        lints.saved(uri)

    server.on_saved.append(lint_saved)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: LogoMeshServer, params: types.DidCloseTextDocumentParams) -> None:
        lints.closed(params.text_document.uri)


def pulls(capabilities: types.ClientCapabilities) -> bool:
    """Whether this client gets pull diagnostics (see the module's docstring)."""
    document = capabilities.text_document
    workspace = capabilities.workspace
    refresh = workspace.diagnostics if workspace else None
    return bool(document and document.diagnostic and refresh and refresh.refresh_support)


class Lints:
    """The open documents' checks and results, for one server."""

    def __init__(self, server: LogoMeshServer) -> None:
        self._server = server
        self._documents: dict[str, Document] = {}
        self._ids = itertools.count(1)
        self._told: set[str] = set()
        self.pull = False

    def initialize(self, params: types.InitializeParams) -> None:
        self.pull = pulls(params.capabilities)
        if not self.pull:
            return
        options = types.DiagnosticOptions(
            identifier="logomesh", inter_file_dependencies=False, workspace_diagnostics=False
        )

        @self._server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, options)
        async def diagnostic(
            ls: LogoMeshServer, params: types.DocumentDiagnosticParams
        ) -> types.DocumentDiagnosticReport:
            try:
                return await self.report(params)
            except JsonRpcException:
                raise
            except Exception as exc:
                raise convert.crashed("textDocument/diagnostic", exc) from exc

    # -- the document's life -------------------------------------------------------------

    def opened(self, item: types.TextDocumentItem) -> None:
        old = self._documents.pop(_key(item.uri), None)
        if old is not None and old.task is not None:
            old.task.cancel()
        path, skip = self._where(item.uri, item.language_id)
        document = Document(item.uri, path, skip)
        self._documents[_key(item.uri)] = document
        if skip is not None:
            self._log(f"LogoMesh does not lint {item.uri}: {skip}.")
            return
        self._schedule(document)

    def saved(self, uri: str) -> None:
        document = self._documents.get(_key(uri))
        if document is not None and document.skip is None:
            self._schedule(document)

    def closed(self, uri: str) -> None:
        document = self._documents.pop(_key(uri), None)
        if document is None:
            return
        if document.task is not None:
            document.task.cancel()
        if not self.pull:
            self._publish(document.uri, [])

    async def report(
        self, params: types.DocumentDiagnosticParams
    ) -> types.DocumentDiagnosticReport:
        """A pull: what the newest check found, or ``unchanged`` for the same result id."""
        uri = params.text_document.uri
        document = self._documents.get(_key(uri))
        if document is None:
            raise convert.response_error(
                "lsp.unknown_document",
                f"LogoMesh has not seen {uri}: the editor must open it (textDocument/didOpen) "
                "before asking for its diagnostics.",
            )
        # A check that is waiting or running answers this pull; a save may replace it.
        while document.task is not None and not document.task.done():
            await asyncio.wait({document.task})
        if document.result_id is None:
            document.result_id = str(next(self._ids))
        if params.previous_result_id == document.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=document.result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=list(document.items), result_id=document.result_id
        )

    # -- checking ------------------------------------------------------------------------

    def _where(self, uri: str, language_id: str) -> tuple[Path | None, str | None]:
        try:
            path = path_of(uri)
        except ValueError:
            return None, "it is not a file on disk"
        if language_id != "python" and path.suffix not in PYTHON_SUFFIXES:
            return path, f"it is not Python (language {language_id!r}); lint.check runs ruff"
        folders = self._server.workspaces.folders
        if not any(path == folder or folder in path.parents for folder in folders):
            shown = ", ".join(str(folder) for folder in folders)
            return path, f"{path} is outside every workspace folder ({shown})"
        return path, None

    def _schedule(self, document: Document) -> None:
        if document.task is not None:
            document.task.cancel()
        task = asyncio.create_task(self._run(document), name=f"lint {document.uri}")
        document.task = task
        self._server.inflight.keep(task)

    async def _run(self, document: Document) -> None:
        await asyncio.sleep(self._server.workspaces.options.lint_debounce_ms / 1000)
        try:
            items = await self._check(document)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background task: say so, never raise into the void
            logger.exception("linting %s failed", document.uri)
            self._tell_once(f"LogoMesh's diagnostics failed unexpectedly ({exc}).")
            return
        if items is not None:
            self._deliver(document, items)

    async def _check(self, document: Document) -> list[types.Diagnostic] | None:
        """The document's diagnostics; None when it could not be checked (keep the last)."""
        if not self._server.workspaces.options.diagnostics or document.path is None:
            # Off: nothing is published, except to clear what was shown before it was off.
            return [] if document.items else None
        from logomesh.commands.models import CommandRequest
        from logomesh.errors import LogoMeshError

        size = max(await asyncio.to_thread(_size, document.path), self._buffer_size(document))
        if size > MAX_LINT_BYTES:
            return [_too_big(document.path, size)]
        try:
            engine = await self._server.workspaces.engine_for(document.uri)
        except LogoMeshError as exc:
            self._tell_once(f"LogoMesh cannot lint {document.path.name}: {exc.user_message}")
            return None
        root = engine.settings.workspace
        relative = await asyncio.to_thread(_inside, document.path, root)
        if relative is None:
            self._log(f"LogoMesh does not lint {document.path}: it is outside {root}.")
            return None
        request = CommandRequest("lint.check", self._server.actor, {"path": relative})
        result = await engine.execute(request)
        if not result.ok:
            self._failed(document.path, result)
            return None
        found = result.data.get("diagnostics", []) if isinstance(result.data, dict) else []
        lines = self._lines(document)
        return [_diagnostic(self._units, lines, d) for d in found if d.get("file") == relative]

    def _deliver(self, document: Document, items: list[types.Diagnostic]) -> None:
        if self._documents.get(_key(document.uri)) is not document:
            return  # closed, or opened again, while it was checked
        changed = document.result_id is None or items != document.items
        if changed:
            document.items = items
            document.result_id = str(next(self._ids))
        if not self.pull:
            self._publish(document.uri, items)
        elif changed:
            # Fire and forget: the client answers null, then pulls each open document.
            self._server.workspace_diagnostic_refresh(None)

    # -- protocol values -----------------------------------------------------------------

    def _units(self, text: str) -> int:
        return int(self._server.workspace.position_codec.client_num_units(text))

    def _lines(self, document: Document) -> tuple[str, ...]:
        text = self._server.workspace.text_documents.get(unquote(document.uri))
        return tuple(text.lines) if text is not None else ()

    def _buffer_size(self, document: Document) -> int:
        text = self._server.workspace.text_documents.get(unquote(document.uri))
        return len(text.source) if text is not None else 0

    def _publish(self, uri: str, items: list[types.Diagnostic]) -> None:
        params = types.PublishDiagnosticsParams(uri=uri, diagnostics=items)
        self._server.text_document_publish_diagnostics(params)

    # -- telling the person --------------------------------------------------------------

    def _failed(self, path: Path, result: CommandResult) -> None:
        error = result.error
        message = error.message if error is not None else result.message
        self._tell_once(f"LogoMesh could not lint {path.name} ({result.outcome}): {message}")

    def _tell_once(self, message: str) -> None:
        """A problem that every later save would repeat: shown once, logged each time."""
        self._log(message, types.MessageType.Warning)
        if message in self._told:
            return
        self._told.add(message)
        self._server.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=message)
        )

    def _log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self._server.window_log_message(types.LogMessageParams(type=kind, message=message))


def _key(uri: str) -> str:
    return unquote(uri)  # how pygls keys its documents: clients differ in percent-encoding


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _inside(path: Path, root: Path) -> str | None:
    resolved, base = path.resolve(), root.resolve()
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else None


def _diagnostic(
    units: Callable[[str], int], lines: tuple[str, ...], found: dict[str, Any]
) -> types.Diagnostic:
    """One of lint.check's diagnostics (1-based lines, character columns) for the client."""
    line, column = found["line"], found["column"]
    end = _position(units, lines, found.get("end_line") or line, found.get("end_column") or column)
    error = found.get("severity") == "error"
    return types.Diagnostic(
        range=types.Range(start=_position(units, lines, line, column), end=end),
        severity=types.DiagnosticSeverity.Error if error else types.DiagnosticSeverity.Warning,
        code=found["code"],
        source=f"logomesh/{found.get('tool', 'lint')}",
        message=found["message"],
    )


def _position(
    units: Callable[[str], int], lines: tuple[str, ...], line: int, column: int
) -> types.Position:
    """A 1-based line and character column in the client's units (UTF-16 unless agreed)."""
    row, character = max(line - 1, 0), max(column - 1, 0)
    if row >= len(lines):
        return types.Position(line=row, character=character)
    return types.Position(line=row, character=units(lines[row].rstrip("\r\n")[:character]))


def _too_big(path: Path, size: int) -> types.Diagnostic:
    message = (
        f"LogoMesh: {path.name} is not linted: it is {size / MB:.1f} MB, above the "
        f"{MAX_LINT_BYTES // MB} MB limit for editor diagnostics. Lint it in a terminal: "
        f"logomesh run lint.check path={path}"
    )
    start = types.Position(line=0, character=0)
    return types.Diagnostic(
        range=types.Range(start=start, end=start),
        severity=types.DiagnosticSeverity.Warning,
        code="too-large",
        source="logomesh",
        message=message,
    )
