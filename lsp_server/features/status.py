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

Each is a notification written from an engine hook or event subscriber on the loop. A
ticket decided in another process (a terminal, a chat) changes only in the store, so each
pending ticket is also watched there (the poll the approval gate uses, off the loop) until it
is settled; each change is announced once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lsp_server.workspaces import Built

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.events import ApprovalDecided, ApprovalRequested
    from lsp_server.server import LogoMeshServer

logger = logging.getLogger(__name__)
ENGINE_READY = "logomesh/engineReady"
ENGINE_FAILED = "logomesh/engineFailed"
APPROVALS_CHANGED = "logomesh/approvalsChanged"


def register(server: LogoMeshServer) -> None:
    # Tickets whose end was announced: a decision made here is heard twice (its event, and
    # the watch on the store), one made in another process only by the watch.
    settled: set[str] = set()

    def built(done: Built) -> None:
        _watch_tickets(server, done, settled)
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


def _watch_tickets(server: LogoMeshServer, built: Built, settled: set[str]) -> None:
    from logomesh.events import ApprovalDecided, ApprovalRequested

    engine = built.engine

    def requested(event: ApprovalRequested) -> None:
        if not server.workspaces.options.notifications:
            return
        _send(server, APPROVALS_CHANGED, _change(event.ticket_id, "pending", event))
        # Decided in a terminal or a chat, the ticket changes in the store only.
        watch = asyncio.ensure_future(_until_settled(server, engine, event.ticket_id, settled))
        server.inflight.keep(watch)

    def decided(event: ApprovalDecided) -> None:
        _settled(server, settled, event.ticket_id, event.state, event)

    engine.events.subscribe(ApprovalRequested, requested)
    engine.events.subscribe(ApprovalDecided, decided)


async def _until_settled(
    server: LogoMeshServer, engine: Engine, ticket_id: str, settled: set[str]
) -> None:
    """Wait (a poll of one row, off the loop) until the ticket leaves pending, by anyone."""
    try:
        ticket = await engine.approvals.current(ticket_id)
        if ticket is not None:
            ticket = await engine.approvals.wait(ticket)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the engine closed (a rebuild), the ticket went: nothing to say
        logger.info("stopped watching ticket %s: %s", ticket_id, exc)
        return
    if ticket is not None and ticket.state.final:
        about = _About(ticket.command, str(ticket.risk), ticket.requester)
        _settled(server, settled, ticket.id, str(ticket.state), about)


class _Ticketed(Protocol):
    """What a ticket is for: the events carry it, and so does a stored ticket."""

    @property
    def command(self) -> str: ...
    @property
    def risk(self) -> str: ...
    @property
    def requester(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _About:
    """What a ticket is for, as the events carry it."""

    command: str
    risk: str
    requester: str


def _settled(
    server: LogoMeshServer, settled: set[str], ticket_id: str, state: str, about: _Ticketed
) -> None:
    if ticket_id not in settled:
        settled.add(ticket_id)
        _send(server, APPROVALS_CHANGED, _change(ticket_id, state, about))


def _change(ticket_id: str, state: str, about: _Ticketed) -> dict[str, Any]:
    return {
        "ticketId": ticket_id,
        "state": state,
        "command": about.command,
        "risk": about.risk,
        "requester": about.requester,
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
