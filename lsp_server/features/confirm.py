"""The engine's confirmation port, answered in the editor: ``window/showMessageRequest``.

The question shows the command, its risk and its arguments as the engine redacted them,
with *Run* and *Cancel*. The prompt does not hold the ticket hostage: when someone decides
it through another adapter (``logomesh approvals approve`` in a terminal, a chat button)
while the prompt is open, that decision wins and the prompt's later answer is ignored,
as the approval gate does for every adapter.

A client that cannot show a message request (Helix) gets no confirmer at all; the request
then waits on its ticket and the client is answered with it (``lsp_server.inflight``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from logomesh.commands.models import ConfirmationRequest
    from logomesh.engine import Engine
    from lsp_server.server import LogoMeshServer

RUN, CANCEL = "Run", "Cancel"


def can_prompt(server: LogoMeshServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.show_message is not None)


class EditorConfirmer:
    """Asks the person at the editor; the default answer (dismissed, failed) is no."""

    def __init__(self, server: LogoMeshServer, engine: Engine) -> None:
        self._server = server
        self._engine = engine

    async def confirm(self, request: ConfirmationRequest) -> bool:
        asked = asyncio.ensure_future(self._ask(request))
        waiters: set[asyncio.Future[Any]] = {asked}
        if request.ticket_id is not None:
            waiters.add(asyncio.ensure_future(self._decided_elsewhere(request.ticket_id)))
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if asked in done and asked.exception() is None:
            return bool(asked.result())
        # Decided elsewhere: the gate reads the ticket and takes that decision.
        return False

    async def _ask(self, request: ConfirmationRequest) -> bool:
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Warning,
            message=f"LogoMesh: {request.prompt}",
            actions=[types.MessageActionItem(title=RUN), types.MessageActionItem(title=CANCEL)],
        )
        answer = await self._server.window_show_message_request_async(params)
        return answer is not None and answer.title == RUN

    async def _decided_elsewhere(self, ticket_id: str) -> None:
        service = self._engine.approvals
        ticket = await service.current(ticket_id)
        if ticket is not None:
            with contextlib.suppress(Exception):
                await service.wait(ticket)
                return
        await asyncio.Event().wait()  # nothing to watch: only the prompt can answer
