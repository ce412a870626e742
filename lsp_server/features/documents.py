"""Document events that several features care about, fanned out from one handler each.

pygls takes one handler per notification, while a saved file matters to more than one
feature (diagnostics lint it, a pipeline file is read again), so ``didSave`` runs every hook
in ``server.on_saved``, each in its own task: a slow or failing hook delays and breaks no
other, and its failure is logged, never sent to the client (a notification has no answer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)


def register(server: LogoMeshServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def saved(ls: LogoMeshServer, params: types.DidSaveTextDocumentParams) -> None:
        for hook in ls.on_saved:
            task = asyncio.create_task(_quietly(hook(ls, params.text_document.uri), hook))
            ls.inflight.keep(task)


async def _quietly(work: Awaitable[None], hook: object) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("%s failed on a saved document", getattr(hook, "__name__", hook))
