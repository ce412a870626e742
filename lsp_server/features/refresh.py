"""Keeping the advertised commands true while the editor runs.

Plugins start, stop and reload on their own (``plugins.watch``): each state change may add
or remove commands, so the server registers the command list again when one happens. A
saved pipeline file is read again at once (``logomesh.pipelines.reload_pipelines``) and its
``pipeline.NAME`` command follows. A saved ``logomesh.toml`` or plugin manifest is not
applied to the running engines: the trust decision covers those files as they were, so the
server says to restart it, as the shell does.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from lsp_server.features.commands import advertise
from lsp_server.workspaces import Built, path_of

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.plugins.plugin import PluginStateChanged
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)
PIPELINE_SUFFIXES = (".yaml", ".yml", ".json")
RESTART_FILES = ("logomesh.toml", "logomesh-plugin.toml")


def register(server: LogoMeshServer) -> None:
    def watch_plugins(built: Built) -> None:
        from logomesh.plugins.plugin import PluginStateChanged

        async def changed(event: PluginStateChanged) -> None:
            await advertise(server)

        built.engine.events.subscribe(PluginStateChanged, changed)

    server.on_engine.append(watch_plugins)
    server.on_saved.append(document_saved)


async def document_saved(server: LogoMeshServer, uri: str) -> None:
    try:
        path = path_of(uri)
    except ValueError:
        return  # not a file on disk: nothing of LogoMesh's
    if path.name in RESTART_FILES:
        server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info,
                message=(
                    f"LogoMesh: {path.name} changed. Restart the language server to apply it "
                    "(a changed workspace must be trusted again: `logomesh trust`)."
                ),
            )
        )
        return
    if path.suffix not in PIPELINE_SUFFIXES:
        return
    engine = await server.workspaces.engine_for(uri)
    if not _in_pipeline_folder(engine, path):
        return
    from logomesh.pipelines import reload_pipelines

    await asyncio.to_thread(reload_pipelines, engine)
    await advertise(server)


def _in_pipeline_folder(engine: Engine, path: Path) -> bool:
    from logomesh.pipelines.files import pipeline_folders

    parent = path.parent.resolve()
    return any(folder.resolve() == parent for folder in pipeline_folders(engine.settings))
