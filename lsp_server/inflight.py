"""The engine requests this server is running, by correlation id, and the engine events
that concern them.

Each engine's bus delivers events on the server's loop; :meth:`Inflight.subscribe` routes
a request's progress and output to its :class:`RequestProgress`, and its approval ticket
to whoever waits for one. A request whose ticket needs someone else's decision (the client
cannot prompt, or the two-person rule holds) is *pending*: the client's request is answered
with the ticket at once, and the engine request goes on in the background until the ticket
is decided, from this editor or any other adapter, or expires.

Every request task is kept here, so a client that disconnects gets each one cancelled, and
the engine records it as cancelled, before the engines close.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from logomesh.events import ApprovalRequested, CommandOutputDelta, CommandProgress

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from lsp_server.features.progress import RequestProgress


@dataclass(eq=False, slots=True)
class Tracked:
    correlation_id: str
    can_prompt: bool
    progress: RequestProgress | None = None
    # Set to the ticket's event when the request waits for someone else's decision.
    pending: asyncio.Future[ApprovalRequested] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Inflight:
    def __init__(self) -> None:
        self._tracked: dict[str, Tracked] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def subscribe(self, engine: Engine) -> None:
        engine.events.subscribe(CommandProgress, self._on_progress)
        engine.events.subscribe(CommandOutputDelta, self._on_output)
        engine.events.subscribe(ApprovalRequested, self._on_approval)

    def track(self, correlation_id: str, *, can_prompt: bool) -> Tracked:
        tracked = Tracked(correlation_id, can_prompt)
        self._tracked[correlation_id] = tracked
        return tracked

    def forget(self, tracked: Tracked) -> None:
        if self._tracked.get(tracked.correlation_id) is tracked:
            del self._tracked[tracked.correlation_id]

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
        if event.separate_approver or not tracked.can_prompt:
            tracked.pending.set_result(event)
