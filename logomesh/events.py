"""In-process publish/subscribe with typed events, delivered on the adapter's event loop.

Adapters learn what the engine is doing (a command started, made progress, finished, an
audit record was written, a plugin changed state) by subscribing to event types, not by
polling or by being called back through engine internals. A failing subscriber is logged
and never breaks the command that published the event, nor the delivery of later events.

Where subscribers run: a long-lived adapter (the shell, the LSP server, a bot) calls
:meth:`EventBus.bind` with its loop when it starts. From then on every event, whether a
coroutine on that loop published it or a plugin's reader thread did
(:meth:`EventBus.publish_threadsafe`), joins one queue and is delivered in the order it was
published, on that loop, by one drain task at a time, so an async subscriber never runs
off its adapter's loop and never sees events out of order. With no loop bound (a one-shot
CLI call), a coroutine's event is delivered at once on the caller's own loop, and events
from threads in order on a private loop the bus runs in a thread of its own (one for the
bus's life, never a fresh loop per event).

The same loop serves the engine work that plugins ask for from their threads (a
``logomesh/call`` runs a command; sampling asks a model): :meth:`EventBus.run_threadsafe`
runs it on the bound loop while that loop runs, else on the bus's own loop. See
docs/architecture.md for who owns which thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
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
class BackgroundWorkFinished(Event):
    """Thread work of a command that outlived the command's timeout has now finished
    (its outcome is also in the audit trail, under the same correlation id)."""

    command: str
    work: str
    outcome: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecorded(Event):
    seq: int
    record_id: str
    action: str


@dataclass(frozen=True, slots=True)
class ApprovalRequested(Event):
    """A request waits for a decision on ticket ``ticket_id`` (arguments are redacted).

    A chat adapter shows it with approve and decline buttons; any adapter answers through
    ``Engine.decide``. Times are RFC 3339 text in UTC. ``parent_id`` is the request's
    parent: for a pipeline's step, the run's correlation id, so a view that follows the run
    (a chat thread) can show the step's ticket too.
    """

    ticket_id: str
    command: str
    risk: str
    requester: str
    arguments: dict[str, Any]
    expires_at: str
    separate_approver: bool
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalDecided(Event):
    """Ticket ``ticket_id`` left ``pending``: approved, declined, expired or cancelled.

    What the ticket is for comes along, so a view of the tickets can update its row without
    reading the store (the request may have been made in another process)."""

    ticket_id: str
    state: str
    by: str | None
    command: str = ""
    risk: str = ""
    requester: str = ""


E = TypeVar("E", bound=Event)
T = TypeVar("T")
Handler = Callable[[Any], Awaitable[None] | None]

# Set while a drain task runs subscribers: their own publishes queue behind the current
# event instead of waiting for a delivery that waits for them.
_DELIVERING: contextvars.ContextVar[bool] = contextvars.ContextVar("delivering", default=False)


@dataclass(slots=True)
class _Delivery:
    event: Event
    # Resolved once the event was delivered, for a publisher on the delivering loop.
    done: asyncio.Future[None] | None = None


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Handler]] = []
        self._queue: deque[_Delivery] = deque()
        self._lock = threading.Lock()
        self._bound: asyncio.AbstractEventLoop | None = None
        self._own: _OwnLoop | None = None
        self._drainer: asyncio.Task[Any] | None = None  # the one delivering on its loop

    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Callable[[], None]:
        """Call ``handler`` for each ``event_type`` event (subclasses too); returns unsubscribe."""
        entry = (event_type, handler)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    # -- the loop events are delivered on ---------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver every event on ``loop`` from now on (the adapter's loop, for its life)."""
        with self._lock:
            self._bound = loop
            waiting = bool(self._queue)
        if waiting:
            self._kick(loop)

    def unbind(self) -> None:
        """Stop delivering on the bound loop (before it closes); what is still queued, and
        everything after, is delivered on the bus's own loop."""
        with self._lock:
            self._bound = None
            self._drainer = None
            waiting = bool(self._queue)
        if waiting:
            self._kick(self._own_loop())

    @property
    def bound_loop(self) -> asyncio.AbstractEventLoop | None:
        return self._bound

    def close(self) -> None:
        """Deliver what is queued for the bus's own loop, then stop its thread."""
        own, self._own = self._own, None
        if own is not None:
            own.close()

    # -- publishing -------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to its subscribers and return once they have had it.

        On a bound bus the event joins the ordered queue; the call waits for its delivery
        when it runs on the bound loop (not from inside a subscriber, which would wait for
        itself, nor from another loop, which must not wait for one that may be idle).
        """
        if not self._wanted(event):
            return
        loop = asyncio.get_running_loop()
        bound = self._bound
        if bound is None and self._own is not None and self._own.loop is loop:
            bound = loop  # engine work on the bus's own loop: in one order with its queue
        if bound is None:
            await self._deliver(event)
            return
        if bound is not loop or _DELIVERING.get():
            self._enqueue(_Delivery(event), bound)
            return
        if self._idle():
            await self._deliver_now(event, loop)
            return
        done: asyncio.Future[None] = loop.create_future()
        self._enqueue(_Delivery(event, done), bound)
        await done

    def publish_threadsafe(self, event: Event) -> None:
        """Queue ``event`` for delivery from any thread, in publication order; never waits."""
        if self._wanted(event):
            self._enqueue(_Delivery(event), self._bound or self._own_loop())

    # -- engine work from other threads ---------------------------------------------------

    def run_threadsafe(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the bound loop (the bus's own loop when none is bound or the
        bound one is not running), from another thread, and wait for its result."""
        bound = self._bound
        loop = bound if bound is not None and bound.is_running() else self._own_loop()
        if _running_loop() is loop:
            coroutine.close()
            raise RuntimeError("run_threadsafe was called on the loop it would wait for")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    # -- delivery ---------------------------------------------------------------------------

    def _idle(self) -> bool:
        """Nothing queued and no drain running: an event published now can go at once."""
        with self._lock:
            drainer = self._drainer
            return not self._queue and (drainer is None or drainer.done())

    async def _deliver_now(self, event: Event, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on the loop without queueing (the common case, ~30 µs cheaper), holding
        the drain's place so events queued meanwhile wait until this one is done."""
        self._drainer = asyncio.current_task()
        token = _DELIVERING.set(True)
        try:
            await self._deliver(event)
        finally:
            _DELIVERING.reset(token)
            self._drainer = None
            if not self._idle():
                self._start_drain(loop)

    def _wanted(self, event: Event) -> bool:
        return any(isinstance(event, event_type) for event_type, _ in self._handlers)

    def _enqueue(self, delivery: _Delivery, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._queue.append(delivery)
        if _running_loop() is loop:
            self._start_drain(loop)
        else:
            self._kick(loop)

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._start_drain, loop)
        except RuntimeError:  # the bound loop closed without unbind: deliver on our own
            with self._lock:
                if self._bound is loop:
                    self._bound = None
            self._own_loop().call_soon_threadsafe(self._start_drain, self._own_loop())

    def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: start the one drain task unless it is running already."""
        drainer = self._drainer
        if drainer is not None and not drainer.done() and drainer.get_loop() is loop:
            return
        context = contextvars.copy_context()
        context.run(_DELIVERING.set, True)
        self._drainer = loop.create_task(self._drain(), context=context)

    async def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                delivery = self._queue.popleft()
            try:
                await self._deliver(delivery.event)
            finally:
                if delivery.done is not None and not delivery.done.done():
                    delivery.done.set_result(None)

    async def _deliver(self, event: Event) -> None:
        for event_type, handler in list(self._handlers):
            if not isinstance(event, event_type):
                continue
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("event subscriber %r failed on %s", handler, type(event).__name__)

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._own is None:
                self._own = _OwnLoop()
            return self._own.loop


class _OwnLoop:
    """The bus's private loop, in a daemon thread: where events go while no adapter loop
    is bound, and where plugins' engine work runs then."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="logomesh-events", daemon=True
        )
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        async def settle() -> None:
            # Let the drain task (and anything it awaits) finish what is queued.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    await asyncio.wait([task], timeout=timeout_s)

        if threading.current_thread() is self._thread:
            self.loop.call_soon(self.loop.stop)
            return
        with contextlib.suppress(RuntimeError, TimeoutError):  # closed, or still busy
            asyncio.run_coroutine_threadsafe(settle(), self.loop).result(timeout_s)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
