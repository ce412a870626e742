"""In-process publish/subscribe with typed events.

Adapters learn what the engine is doing (a command started, made progress, finished, an
audit record was written) by subscribing to event types, not by polling or by being called
back through engine internals. A failing subscriber is logged and never breaks the command
that published the event.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    correlation_id: str


@dataclass(frozen=True, slots=True)
class CommandStarted(Event):
    command: str
    actor: str


@dataclass(frozen=True, slots=True)
class CommandProgress(Event):
    command: str
    message: str
    fraction: float | None = None


@dataclass(frozen=True, slots=True)
class CommandOutputDelta(Event):
    """A piece of a command's output as it is produced (a model's answer, token by token)."""

    command: str
    text: str


@dataclass(frozen=True, slots=True)
class CommandFinished(Event):
    command: str
    outcome: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class AuditRecorded(Event):
    seq: int
    record_id: str
    action: str


@dataclass(frozen=True, slots=True)
class ApprovalRequested(Event):
    """A request waits for a decision on ticket ``ticket_id`` (arguments are redacted).

    A chat adapter shows it with approve and decline buttons; any adapter answers through
    ``Engine.decide``. Times are RFC 3339 text in UTC.
    """

    ticket_id: str
    command: str
    risk: str
    requester: str
    arguments: dict[str, Any]
    expires_at: str
    separate_approver: bool


@dataclass(frozen=True, slots=True)
class ApprovalDecided(Event):
    """Ticket ``ticket_id`` left ``pending``: approved, declined, expired or cancelled."""

    ticket_id: str
    state: str
    by: str | None


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Handler]] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Callable[[], None]:
        """Call ``handler`` for each ``event_type`` event (subclasses too); returns unsubscribe."""
        entry = (event_type, handler)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        for event_type, handler in list(self._handlers):
            if not isinstance(event, event_type):
                continue
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("event subscriber %r failed on %s", handler, type(event).__name__)
