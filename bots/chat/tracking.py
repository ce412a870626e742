"""Following a request as it runs: its progress reply, and the approval cards it raises.

The engine announces what happens on its event bus, keyed by correlation id: a command
started, reported progress, a pipeline step moved on, a ticket was opened or decided. The
bot's :class:`Watch` subscribes once and routes each event to the :class:`Flow` of the
chat message with that id, which edits the message's one progress reply, no more often
than ``bots.progress_interval_s`` (platforms rate-limit edits), until the result replaces
it. Subscribers only note what happened and return; the posting is done by the flow's own
task, so a slow platform never holds up the bus.

Approval cards are kept on a :class:`CardBoard` by ticket, whoever posted them (a request's
flow, or the ``approvals`` listing), so a decision from any adapter redraws every card of
that ticket this bot has shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bots.chat.approvals import TicketCard, card, settled_card
from bots.chat.conversation import Conversation
from bots.chat.render import Block, Code, Context, Reply, Text
from logomesh.events import (
    ApprovalDecided,
    ApprovalRequested,
    CommandProgress,
    CommandStarted,
    EventBus,
)
from logomesh.pipelines.events import StepFinished, StepProgress, StepStarted

logger = logging.getLogger(__name__)

Fit = Callable[[Reply], Reply]
_REMEMBER_SETTLED = 1000
_STEP_MARKS = {"succeeded": "✓", "failed": "✗", "skipped": "↷", "cancelled": "⏹"}
# Commands the flow does not name as "running": the interpretation before the real one.
_QUIET_COMMANDS = frozenset({"nl.interpret"})


class Flow:
    """One chat message's request while it runs, and its one progress reply."""

    def __init__(
        self, conversation: Conversation, ref: str, title: str, interval_s: float, fit: Fit
    ) -> None:
        self.conversation = conversation
        self.ref = ref
        self.title = title
        self.loop = asyncio.get_running_loop()
        self._interval_s = interval_s
        self._fit = fit
        self._latest: str | None = None
        self._fraction: float | None = None
        self._steps: dict[str, str] = {}
        self._waiting: str | None = None
        self._changed = asyncio.Event()
        self._task = self.loop.create_task(self._edit(), name=f"progress {title}")

    # -- news, from the bus (always called on the flow's loop) --------------------------

    def started(self, command: str) -> None:
        title = f"Running `{command}`"
        quiet = command in _QUIET_COMMANDS or command.startswith("pipeline.")
        if not quiet and title != self.title:
            self.title = title
            self._changed.set()

    def progress(self, message: str, fraction: float | None) -> None:
        self._latest = message
        if fraction is not None:
            self._fraction = fraction
        self._changed.set()

    def step(self, step: str, state: str, message: str | None = None) -> None:
        self._steps[step] = state
        if message:
            self._latest = f"{step}: {message}"
        self._changed.set()

    def waiting_for(self, ticket: TicketCard) -> None:
        self._waiting = (
            f"🔐 Waiting for a decision on ticket `{ticket.ticket_id}` ({ticket.command}, "
            f"{ticket.risk} risk) until {ticket.expires_at}: see the card below."
        )
        self._changed.set()

    def decided(self) -> None:
        self._waiting = None
        self._changed.set()

    # -- the reply ----------------------------------------------------------------------

    def reply(self) -> Reply:
        """The progress reply as it stands."""
        headline = f"⏳ {self.title}…"
        if self._fraction is not None:
            headline += f" ({max(0, min(100, round(self._fraction * 100)))}%)"
        blocks: list[Block] = [Text(headline)]
        if self._steps:
            marks = (f"{step} {_STEP_MARKS.get(s, '⏳')}" for step, s in self._steps.items())
            blocks.append(Text(" · ".join(marks)))
        if self._latest:
            lines = [line for line in self._latest.splitlines() if line.strip()]
            if lines:
                blocks.append(Code("\n".join(lines[-5:])))
        if self._waiting:
            blocks.append(Context(self._waiting))
        return Reply(tuple(blocks), headline)

    async def finish(self, reply: Reply) -> None:
        """Stop editing, and replace the progress reply with ``reply``."""
        self._task.cancel()
        await asyncio.wait([self._task])  # unlike awaiting it, never swallows our own cancel
        await self.conversation.update(self.ref, self._fit(reply))

    async def _edit(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self.conversation.update(self.ref, self._fit(self.reply()))
            except asyncio.CancelledError:
                raise
            except Exception:  # progress is a courtesy; the result still replaces it
                logger.warning("could not edit the progress of %s", self.title, exc_info=True)
            await asyncio.sleep(self._interval_s)


@dataclass(slots=True)
class _Shown:
    conversation: Conversation
    ref: str
    ticket: TicketCard


class CardBoard:
    """Every approval card this bot has shown and not yet seen decided, by ticket."""

    def __init__(self, fit: Fit) -> None:
        self._fit = fit
        self._cards: dict[str, list[_Shown]] = {}
        # Ticket -> (state, by, refs redrawn) for recently settled tickets: a card posted
        # just after its decision is drawn settled, and a click's card is not drawn twice.
        self._settled: OrderedDict[str, tuple[str, str | None, set[str]]] = OrderedDict()

    async def post(self, conversation: Conversation, ticket: TicketCard) -> str:
        ref = await conversation.post(self._fit(card(ticket)))
        settled = self._settled.get(ticket.ticket_id)
        if settled is not None:
            state, by, refs = settled
            refs.add(ref)
            await conversation.update(ref, self._fit(settled_card(ticket, state, by)))
        else:
            self._cards.setdefault(ticket.ticket_id, []).append(_Shown(conversation, ref, ticket))
        return ref

    async def settle(self, ticket_id: str, state: str, by: str | None) -> set[str]:
        """Redraw every card of the ticket as decided; the refs of all cards redrawn so far."""
        entry = self._settled.setdefault(ticket_id, (state, by, set()))
        self._settled.move_to_end(ticket_id)
        while len(self._settled) > _REMEMBER_SETTLED:
            self._settled.popitem(last=False)
        shown = self._cards.pop(ticket_id, [])
        entry[2].update(item.ref for item in shown)
        for item in shown:
            try:
                reply = settled_card(item.ticket, entry[0], entry[1])
                await item.conversation.update(item.ref, self._fit(reply))
            except Exception:
                logger.warning("could not redraw the card of ticket %s", ticket_id, exc_info=True)
        return set(entry[2])

    def redrawn(self, ticket_id: str) -> set[str]:
        settled = self._settled.get(ticket_id)
        return set(settled[2]) if settled else set()


class Watch:
    """The bot's one set of subscriptions, routing events to flows and cards."""

    def __init__(self, events: EventBus, board: CardBoard, spawn: Callable[[Any], None]) -> None:
        self._flows: dict[str, Flow] = {}
        self._waiting: dict[str, Flow] = {}  # ticket id -> the flow that shows its card
        self._board = board
        self._spawn = spawn
        self._unsubscribe = [
            events.subscribe(CommandStarted, self._on_started),
            events.subscribe(CommandProgress, self._on_progress),
            events.subscribe(StepStarted, self._on_step_started),
            events.subscribe(StepProgress, self._on_step_progress),
            events.subscribe(StepFinished, self._on_step_finished),
            events.subscribe(ApprovalRequested, self._on_requested),
            events.subscribe(ApprovalDecided, self._on_decided),
        ]
        # The bot's loop, where cards are redrawn (set when the bot handles anything).
        self.loop: asyncio.AbstractEventLoop | None = None

    def track(self, correlation_id: str, flow: Flow) -> None:
        self._flows[correlation_id] = flow

    def forget(self, correlation_id: str, flow: Flow) -> None:
        if self._flows.get(correlation_id) is flow:
            del self._flows[correlation_id]
        for ticket_id in [t for t, waiting in self._waiting.items() if waiting is flow]:
            del self._waiting[ticket_id]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _route(
        self, correlation_id: str, act: Callable[[Flow], None], parent_id: str | None = None
    ) -> Flow | None:
        """Hand the event to the flow it concerns: its own request's, or (a pipeline's step)
        the run's, which is the request's parent."""
        flow = self._flows.get(correlation_id)
        if flow is None and parent_id is not None:
            flow = self._flows.get(parent_id)
        if flow is not None:
            _on_loop(flow.loop, act, flow)
        return flow

    def _on_started(self, event: CommandStarted) -> None:
        self._route(event.correlation_id, lambda flow: flow.started(event.command))

    def _on_progress(self, event: CommandProgress) -> None:
        self._route(event.correlation_id, lambda f: f.progress(event.message, event.fraction))

    def _on_step_started(self, event: StepStarted) -> None:
        self._route(event.correlation_id, lambda flow: flow.step(event.step, "running"))

    def _on_step_progress(self, event: StepProgress) -> None:
        self._route(event.correlation_id, lambda f: f.step(event.step, "running", event.message))

    def _on_step_finished(self, event: StepFinished) -> None:
        self._route(event.correlation_id, lambda flow: flow.step(event.step, event.state))

    def _on_requested(self, event: ApprovalRequested) -> None:
        ticket = TicketCard.from_event(event)

        def show(flow: Flow) -> None:
            flow.waiting_for(ticket)
            self._spawn(self._board.post(flow.conversation, ticket))

        flow = self._route(event.correlation_id, show, event.parent_id)
        if flow is not None:
            self._waiting[event.ticket_id] = flow

    def _on_decided(self, event: ApprovalDecided) -> None:
        flow = self._waiting.pop(event.ticket_id, None)
        if flow is not None:
            _on_loop(flow.loop, flow.decided)
        loop = self.loop
        if loop is not None:
            _on_loop(
                loop,
                lambda: self._spawn(self._board.settle(event.ticket_id, event.state, event.by)),
            )


def _on_loop(loop: asyncio.AbstractEventLoop, act: Callable[..., None], *args: Any) -> None:
    """Run ``act`` on ``loop``: at once when called there, else handed over to it (not at
    all once that loop has closed: nothing is left there to show it to)."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        act(*args)
    else:
        loop.call_soon_threadsafe(act, *args)
