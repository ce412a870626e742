"""Running one engine request for the editor: progress, confirmation, and the pending answer.

:func:`run_request` sends a ``CommandRequest`` through ``Engine.execute`` with the editor's
confirmer; :func:`settle` waits for any such work (a command, a natural-language request)
while its progress is shown. It ends one of two ways:

- the work finishes: its result is rendered by the caller's ``report`` and returned;
- the work waits for someone else's decision on its approval ticket (the editor cannot
  answer a prompt, or the two-person rule holds): the client is answered at once with the
  ticket and how to approve it, and the work goes on in the background; when it ends,
  its result is shown with ``window/showMessage``, since nobody waits for the answer.

A cancelled request cancels the work and waits until the engine has recorded it as
cancelled; so does the server's close (every task is kept by ``server.inflight``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types

from lsp_server.features.confirm import EditorConfirmer
from lsp_server.features.progress import RequestProgress

if TYPE_CHECKING:
    from logomesh.commands.models import CommandRequest, CommandResult
    from logomesh.engine import Engine
    from logomesh.events import ApprovalRequested
    from lsp_server.inflight import Tracked
    from lsp_server.server import LogoMeshServer

T = TypeVar("T")
# Renders a finished result: (result, always) -> the JSON answer. ``always`` says nobody
# waits for the answer any more, so the person must be shown it.
Report = Callable[[T, bool], Any]


async def run_request(
    server: LogoMeshServer,
    engine: Engine,
    request: CommandRequest,
    token: types.ProgressToken | None,
    *,
    report: Report[CommandResult],
) -> Any:
    work = asyncio.ensure_future(engine.execute(request, EditorConfirmer(server, engine)))
    return await settle(server, request.correlation_id, request.command, work, token, report)


async def settle(
    server: LogoMeshServer,
    correlation_id: str,
    title: str,
    work: asyncio.Future[T],
    token: types.ProgressToken | None,
    report: Report[T],
) -> Any:
    """``report(result)``, or the pending answer when the work waits on its ticket."""
    tracked = server.inflight.track(correlation_id)
    progress = RequestProgress(server, title, token, work.cancel)
    tracked.progress = progress
    progress.start()
    waiting: set[asyncio.Future[Any]] = {work, tracked.pending}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        await asyncio.wait({work})  # the engine records the request as cancelled
        await _finish(server, tracked, "cancelled")
        raise
    if work.done():
        await _finish(server, tracked, _outcome(work))
        return report(work.result(), False)
    event = tracked.pending.result()
    finishing = asyncio.ensure_future(_finish_in_background(server, tracked, work, report))
    server.inflight.keep(finishing)
    answer = pending_answer(title, correlation_id, event)
    if server.workspaces.options.show_results:
        server.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=answer["message"])
        )
    return answer


async def _finish(server: LogoMeshServer, tracked: Tracked, outcome: str) -> None:
    if tracked.progress is not None:
        await tracked.progress.end(outcome)
    server.inflight.forget(tracked)


def _outcome(work: asyncio.Future[Any]) -> str:
    if work.cancelled():
        return "cancelled"
    if work.exception() is not None:
        return "error"
    return str(getattr(work.result(), "outcome", "done"))


async def _finish_in_background(
    server: LogoMeshServer, tracked: Tracked, work: asyncio.Future[T], report: Report[T]
) -> None:
    try:
        await asyncio.wait({work})
    except asyncio.CancelledError:
        work.cancel()
        await asyncio.wait({work})
        raise
    finally:
        await _finish(server, tracked, _outcome(work))
    if not work.cancelled() and work.exception() is None:
        report(work.result(), True)


def pending_answer(title: str, correlation_id: str, event: ApprovalRequested) -> dict[str, Any]:
    who = "another approver" if event.separate_approver else "you or another approver"
    return {
        "command": event.command,
        "ok": False,
        "outcome": "pending",
        "message": (
            f"LogoMesh: {event.command} waits for approval on ticket {event.ticket_id} "
            f"(until {event.expires_at}); {who} can approve it with "
            f"logomesh.approvals.approve or `logomesh approvals approve {event.ticket_id}`."
        ),
        "ticket": {
            "id": event.ticket_id,
            "command": event.command,
            "risk": event.risk,
            "arguments": event.arguments,
            "requester": event.requester,
            "expires_at": event.expires_at,
            "separate_approver": event.separate_approver,
        },
        "approve": {
            "command": "logomesh.approvals.approve",
            "arguments": [{"id": event.ticket_id}],
        },
        "correlation_id": correlation_id,
    }
