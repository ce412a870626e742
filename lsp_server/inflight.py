"""The engine requests this server is running, by correlation id, and the engine events
that concern them.

Each engine's bus delivers events on the server's loop; :meth:`Inflight.subscribe` routes
a request's progress and output to its :class:`RequestProgress`, and its approval ticket
to whoever waits for one. A request whose ticket needs someone else's decision (the client
cannot answer a prompt, or the two-person rule holds) is *pending*: the client's request is answered
with the ticket at once, and the engine request goes on in the background until the ticket
is decided, from this editor or any other adapter, or expires.

Every request task is kept here, so a client that disconnects gets each one cancelled, and
the engine records it as cancelled, before the engines close.

The tickets of pending requests that this editor's person may approve are kept too, until
decided or the request ends, so the code actions can offer *Approve* for each
(``lsp_server.features.code_actions``), for clients that cannot prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.events import (
        ApprovalDecided,
        ApprovalRequested,
        CommandOutputDelta,
        CommandProgress,
    )
    from lsp_server.features.progress import RequestProgress


@dataclass(eq=False, slots=True)
class Tracked:
    correlation_id: str
    progress: RequestProgress | None = None
    # The request's approval ticket, once the engine opened one.
    ticket: ApprovalRequested | None = None
    # Set to the ticket's event when the request waits for someone else's decision.
    pending: asyncio.Future[ApprovalRequested] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Inflight:
    def __init__(self) -> None:
        self._tracked: dict[str, Tracked] = {}
        self._by_ticket: dict[str, Tracked] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Ticket id -> its request, for tickets the requester here may approve.
        self._tickets: dict[str, ApprovalRequested] = {}

    def subscribe(self, engine: Engine) -> None:
        # Here, not at the top: the events module costs the initialize answer 10 ms.
        from logomesh.events import (
            ApprovalDecided,
            ApprovalRequested,
            CommandOutputDelta,
            CommandProgress,
        )

        engine.events.subscribe(CommandProgress, self._on_progress)
        engine.events.subscribe(CommandOutputDelta, self._on_output)
        engine.events.subscribe(ApprovalRequested, self._on_approval)
        engine.events.subscribe(ApprovalDecided, self._on_decided)

    def tickets(self) -> list[ApprovalRequested]:
        """Pending tickets of this server's requests that their requester may approve."""
        return list(self._tickets.values())

    def track(self, correlation_id: str) -> Tracked:
        tracked = Tracked(correlation_id)
        self._tracked[correlation_id] = tracked
        return tracked

    def forget(self, tracked: Tracked) -> None:
        if self._tracked.get(tracked.correlation_id) is tracked:
            del self._tracked[tracked.correlation_id]
        if tracked.ticket is not None:
            self._by_ticket.pop(tracked.ticket.ticket_id, None)
            self._tickets.pop(tracked.ticket.ticket_id, None)

    def waits_for_others(self, ticket_id: str) -> None:
        """The editor cannot answer for this ticket: answer its request with the ticket,
        which its requester may then approve from here (a code action, a command)."""
        tracked = self._by_ticket.get(ticket_id)
        if tracked is not None and tracked.ticket is not None and not tracked.pending.done():
            tracked.pending.set_result(tracked.ticket)
            self._tickets[ticket_id] = tracked.ticket

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold ``task`` until it ends (the loop keeps only weak references)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        """Cancel every request still running and wait until each is recorded."""
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(tasks, timeout=10)

    def _on_progress(self, event: CommandProgress) -> None:
        tracked = self._tracked.get(event.correlation_id)
        if tracked is not None and tracked.progress is not None:
            tracked.progress.news(event.message, event.fraction)

    def _on_output(self, event: CommandOutputDelta) -> None:
        tracked = self._tracked.get(event.correlation_id)
        if tracked is not None and tracked.progress is not None:
            tracked.progress.output(event.text)

    def _on_approval(self, event: ApprovalRequested) -> None:
        tracked = self._tracked.get(event.correlation_id)
        if tracked is None or tracked.pending.done():
            return
        tracked.ticket = event
        self._by_ticket[event.ticket_id] = tracked
        if event.separate_approver:  # the requester's own yes does not count
            tracked.pending.set_result(event)

    def _on_decided(self, event: ApprovalDecided) -> None:
        self._tickets.pop(event.ticket_id, None)
