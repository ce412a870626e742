"""Start, configuration and folders: from ``initialize`` to ``shutdown``.

``initialize`` only records what the client said (its capabilities, folders and
``initializationOptions``) and answers; ``initialized`` then pulls the ``logomesh``
configuration section where the client serves one, builds the first folder's engine in a
thread, says what loading it found (an untrusted workspace, a broken setting), and
advertises the engine's commands. A configuration change that alters what engines are built
from (mode, database, models, trust) closes them; the next request builds them anew.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.features.commands import advertise
from lsp_server.options import parse_options
from lsp_server.workspaces import path_of

if TYPE_CHECKING:
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)
SECTION = "logomesh"


def register(server: LogoMeshServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: LogoMeshServer, params: types.InitializeParams) -> None:
        options, problems = parse_options(params.initialization_options, "initializationOptions")
        ls.workspaces.configure(_folders(params), options)
        ls.pending_notices.extend(problems)
        # pygls builds the capabilities after this handler: features may still register.
        for hook in ls.on_initialize:
            hook(params)

    @server.feature(types.INITIALIZED)
    def initialized(ls: LogoMeshServer, params: types.InitializedParams) -> None:
        ls.inflight.keep(asyncio.create_task(_start(ls), name="logomesh start"))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: LogoMeshServer, params: types.DidChangeConfigurationParams
    ) -> None:
        raw = await _pull(ls) if _can_pull(ls) else params.settings
        await _apply(ls, raw, "workspace/didChangeConfiguration")

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(
        ls: LogoMeshServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        for removed in params.event.removed:
            await ls.workspaces.remove_folder(path_of(removed.uri))
        for added in params.event.added:
            await ls.workspaces.add_folder(path_of(added.uri))

    # Not async: pygls resumes its shutdown handler after an async one in another context,
    # where it no longer knows the request's id and cancels the shutdown answer itself.
    # The closing finishes before the process exits (lsp_server.server).
    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LogoMeshServer, params: None) -> None:
        ls.start_closing()


def _folders(params: types.InitializeParams) -> list[Path]:
    if params.workspace_folders:
        return [path_of(folder.uri) for folder in params.workspace_folders]
    if params.root_uri:
        return [path_of(params.root_uri)]
    if params.root_path:
        return [Path(params.root_path)]
    return []


async def _start(ls: LogoMeshServer) -> None:
    if _can_pull(ls):
        await _apply(ls, await _pull(ls), "workspace/configuration", start=False)
    for problem in ls.pending_notices:
        _tell(ls, problem, types.MessageType.Warning)
    ls.pending_notices.clear()
    await _build_first(ls)


async def _build_first(ls: LogoMeshServer) -> None:
    from logomesh.errors import LogoMeshError

    try:
        built = await ls.workspaces.built_for(None)
    except LogoMeshError as exc:
        _tell(ls, exc.user_message, types.MessageType.Error)
        return
    for notice in built.notices:
        _tell(ls, notice, types.MessageType.Warning)
    await advertise(ls)


async def _apply(ls: LogoMeshServer, raw: Any, where: str, *, start: bool = True) -> None:
    if not raw:
        return  # the client has no such section: initializationOptions stand
    options, problems = parse_options(raw, where)
    for problem in problems:
        _tell(ls, problem, types.MessageType.Warning)
    # Trust given at start (the editor's Workspace Trust) stays unless the change says.
    if options.trusted is None and ls.workspaces.options.trusted is not None:
        options = replace(options, trusted=ls.workspaces.options.trusted)
    # So does the opt-in to LogoMesh's notifications: it says what the client handles.
    if options.notifications is None:
        options = replace(options, notifications=ls.workspaces.options.notifications)
    if await ls.workspaces.reconfigure(options) and start:
        await _build_first(ls)


def _can_pull(ls: LogoMeshServer) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace and workspace.configuration)


async def _pull(ls: LogoMeshServer) -> Any:
    params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
    try:
        values = await ls.workspace_configuration_async(params)
    except Exception as exc:  # a client that fails the request: keep what we have
        logger.warning("workspace/configuration failed: %s", exc)
        return None
    return values[0] if values else None


def _tell(ls: LogoMeshServer, message: str, kind: types.MessageType) -> None:
    ls.window_show_message(types.ShowMessageParams(type=kind, message=f"LogoMesh: {message}"))
