"""The engine's confirmation port, answered in the editor: ``window/showMessageRequest``.

The question shows the command, its risk and its arguments as the engine redacted them,
with *Run* and *Cancel*. The prompt does not hold the ticket hostage: when someone decides
it through another adapter (``logomesh approvals approve`` in a terminal, a chat button)
while the prompt is open, that decision wins and the prompt's later answer is ignored,
as the approval gate does for every adapter.

Every client is asked: the request is part of the base protocol, and its capability only
describes extras (Emacs' eglot declares none and answers it). A client that cannot answer
(Helix 25.07 replies MethodNotFound) makes the request *pending*: the client is answered
with the ticket at once (``lsp_server.inflight``), and the request goes on waiting for a
decision from anyone who may approve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from logomesh.commands.models import ConfirmationRequest
    from logomesh.engine import Engine
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)
RUN, CANCEL = "Run", "Cancel"


class EditorConfirmer:
    """Asks the person at the editor; the default answer (dismissed, failed) is no."""

    def __init__(self, server: LogoMeshServer, engine: Engine) -> None:
        self._server = server
        self._engine = engine

    async def confirm(self, request: ConfirmationRequest) -> bool:
        asked = asyncio.ensure_future(self._ask(request))
        elsewhere = asyncio.ensure_future(self._decided_elsewhere(request.ticket_id))
        try:
            await asyncio.wait({asked, elsewhere}, return_when=asyncio.FIRST_COMPLETED)
            if asked.done() and asked.exception() is None:
                return asked.result()
            if asked.done():
                logger.info("the editor cannot ask (%s): waiting on the ticket", asked.exception())
                if request.ticket_id is not None:
                    self._server.inflight.waits_for_others(request.ticket_id)
                await elsewhere
            # Decided elsewhere: the gate reads the ticket and takes that decision.
            return False
        finally:
            asked.cancel()
            elsewhere.cancel()

    async def _ask(self, request: ConfirmationRequest) -> bool:
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Warning,
            message=f"LogoMesh: {request.prompt}",
            actions=[types.MessageActionItem(title=RUN), types.MessageActionItem(title=CANCEL)],
        )
        answer = await self._server.window_show_message_request_async(params)
        return answer is not None and answer.title == RUN

    async def _decided_elsewhere(self, ticket_id: str | None) -> None:
        service = self._engine.approvals
        ticket = await service.current(ticket_id) if ticket_id is not None else None
        if ticket is not None:
            with contextlib.suppress(Exception):
                await service.wait(ticket)
                return
        await asyncio.Event().wait()  # nothing to watch: only the prompt can answer
