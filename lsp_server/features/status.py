"""LogoMesh's own status notifications, for an extension that shows them.

A generic LSP client has no use for them, so only a client that asked (the ``notifications``
option, :mod:`lsp_server.options`) is sent any; the VS Code extension asks, and shows the
engine's state and the pending approvals without polling:

- ``logomesh/engineReady`` ``{folder, mode, trusted, restricted, user, notices}`` once a
  folder's engine is built, and again after each rebuild (a changed ``trusted``, mode...);
- ``logomesh/engineFailed`` ``{folder, message}`` when it could not be built (the
  ``window/showMessage`` and the requests' errors say so as before);
- ``logomesh/approvalsChanged`` ``{ticketId, state, command, risk, requester}`` on every
  ticket an engine of this server opens (``pending``) or settles (``approved``,
  ``declined``, ``expired``, ``cancelled``).

Each is a notification written from an engine hook or event subscriber on the loop: nothing
here waits, reads the store or runs a command.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsp_server.workspaces import Built

if TYPE_CHECKING:
    from logomesh.events import ApprovalDecided, ApprovalRequested
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)
ENGINE_READY = "logomesh/engineReady"
ENGINE_FAILED = "logomesh/engineFailed"
APPROVALS_CHANGED = "logomesh/approvalsChanged"


def register(server: LogoMeshServer) -> None:
    def built(done: Built) -> None:
        _watch_tickets(server, done)
        _send(server, ENGINE_READY, engine_ready(server, done))

    def failed(folder: Path, error: Exception) -> None:
        _send(server, ENGINE_FAILED, {"folder": folder.as_uri(), "message": _message(error)})

    server.on_engine.append(built)
    server.on_engine_failed.append(failed)


def engine_ready(server: LogoMeshServer, built: Built) -> dict[str, Any]:
    settings = built.engine.settings
    return {
        "folder": built.folder.as_uri(),
        "mode": str(settings.mode),
        "trusted": settings.workspace_trusted,
        "restricted": settings.workspace_restricted,
        # Who the engine takes the person at the editor for (their identity's name).
        "user": built.engine.identities.resolve(server.actor).name,
        "notices": list(built.notices),
    }


def _watch_tickets(server: LogoMeshServer, built: Built) -> None:
    from logomesh.events import ApprovalDecided, ApprovalRequested

    def requested(event: ApprovalRequested) -> None:
        _send(server, APPROVALS_CHANGED, _change(event.ticket_id, "pending", event))

    def decided(event: ApprovalDecided) -> None:
        _send(server, APPROVALS_CHANGED, _change(event.ticket_id, event.state, event))

    built.engine.events.subscribe(ApprovalRequested, requested)
    built.engine.events.subscribe(ApprovalDecided, decided)


def _change(
    ticket_id: str, state: str, event: ApprovalRequested | ApprovalDecided
) -> dict[str, Any]:
    return {
        "ticketId": ticket_id,
        "state": state,
        "command": event.command,
        "risk": event.risk,
        "requester": event.requester,
    }


def _message(error: Exception) -> str:
    from logomesh.errors import LogoMeshError

    if isinstance(error, LogoMeshError):
        return error.user_message
    return f"The engine could not be built ({type(error).__name__}: {error}); see the server's log."


def _send(server: LogoMeshServer, method: str, params: dict[str, Any]) -> None:
    """To a client that asked for LogoMesh's notifications; a failed write is only logged
    (a status line is a courtesy, and the client may be going away)."""
    if not server.workspaces.options.notifications:
        return
    try:
        server.protocol.notify(method, params)
    except Exception as exc:
        logger.info("could not send %s: %s", method, exc)
