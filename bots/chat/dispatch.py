"""The neutral chat bot: from a chat message to ``Engine.execute``, and back as a reply.

One :class:`ChatBot` serves one engine for one platform. A platform adapter acknowledges
what it received within the platform's deadline, translates it into a
:class:`~bots.chat.message.ChatMessage` or :class:`~bots.chat.message.ButtonClick`, and
hands it over with :meth:`ChatBot.accept` / :meth:`ChatBot.accept_click`, which return at
once; the work runs as a task the bot keeps, so shutdown can wait for it or cancel it.

Each message goes: rate limit -> identity -> the subcommand grammar -> one progress reply
in the thread -> the engine, with source = the platform and the message's correlation id,
so the trail links the message, the interpretation, the command, its approval ticket and its
model calls -> the progress reply replaced by the result. Authorisation, confirmation and
audit are the engine's: the bot never decides who may do what. Chat text is data: it is
interpreted into a proposal (``nl.interpret``), and what it says cannot change the rules.
An error the engine explains is the reply; anything else is logged and answered with a
generic message carrying the correlation id (errbot's way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bots.chat.approvals import decide_click
from bots.chat.conversation import Conversation
from bots.chat.fitting import Limits, fit
from bots.chat.help import help_reply
from bots.chat.identity import is_mapped, unmapped_reply
from bots.chat.message import Arrival, ButtonClick, ChatMessage, ChatUser
from bots.chat.parse import (
    Approvals,
    Audit,
    ChatParseError,
    Do,
    Help,
    Intent,
    Pipeline,
    Run,
    parse_command_text,
    parse_conversational,
)
from bots.chat.ratelimit import RateLimiter, Refusal
from bots.chat.render import Context, Reply, Text
from bots.chat.results import error_reply, outcome_reply, result_reply, unexpected_reply
from bots.chat.tracking import CardBoard, Flow, Watch
from logomesh.approvals.models import TicketState
from logomesh.audit.models import AuditEntry
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.nl.flow import execute_text

logger = logging.getLogger(__name__)

# How often a card of a ticket from elsewhere checks its row: another process's decision
# publishes no event in this one, and a person reads "Approved by ..." at this pace.
CARD_POLL_S = 1.0
# Every bot process sets this (sys.setswitchinterval). The local model runs in threads of
# this process (llama.cpp's sampling loop, torch) and holds the interpreter lock between its
# C calls. At Python's default 5 ms switch interval the loop waits that long at each
# hand-over: 50 slash commands arriving while the model was busy were acked in 300 ms at
# p99; at 1 ms, in 126 ms, with the model no slower (benchmarks/slack_bot.py).
LOOP_SWITCH_INTERVAL_S = 0.001
_STOPPING = (
    "LogoMesh is restarting and took no new requests; nothing was run. Try again in a minute."
)


class ChatBot:
    """The platform-neutral bot over one engine (settings: ``engine.settings.bots``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        platform: Source,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limits``: when given, every reply is fitted to them here (else the platform's
        conversation fits them); ``clock``: the rate limit's, injectable for tests."""
        self.engine = engine
        self.platform = platform
        self.settings = engine.settings.bots
        self._limits = limits
        self._limiter = RateLimiter(
            self.settings.rate_limit_per_minute, self.settings.rate_limit_burst, clock=clock
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepting = True
        self._bound = False
        self._board = CardBoard(self._fit)
        self._watch = Watch(engine.events, self._board, self._spawn)
        # Listed tickets raised elsewhere, each followed until decided (not work in flight).
        self._followed: dict[str, asyncio.Task[None]] = {}

    # -- what adapters call ----------------------------------------------------------------

    def accept(self, message: ChatMessage, conversation: Conversation) -> None:
        """Handle ``message`` in the background (call it after the platform's ack)."""
        if not self._accepting:
            self._spawn(_whisper_quietly(conversation, self._fit(_stopping())))
            return
        self._spawn(self.handle(message, conversation))

    def accept_click(self, click: ButtonClick, conversation: Conversation) -> None:
        if not self._accepting:
            self._spawn(_whisper_quietly(conversation, self._fit(_stopping())))
            return
        self._spawn(self.handle_click(click, conversation))

    @property
    def in_flight(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    async def start(self) -> None:
        """Deliver engine events on this loop, and warm what a long-lived adapter needs:
        the embedding worker, the plugins and the interpreter's model, off the loop."""
        loop = asyncio.get_running_loop()
        self.engine.events.bind(loop)
        self._bound = True
        self._watch.loop = loop
        await asyncio.to_thread(self._warm_up)

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Take no new requests; let those in flight finish for up to ``grace_s`` (default
        ``bots.shutdown_grace_s``), cancel the rest (the engine records them as cancelled),
        then close the engine, off the loop."""
        self._accepting = False
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        running = [task for task in self._tasks if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=30)
        for follower in self._followed.values():
            follower.cancel()
        if self._followed:
            await asyncio.wait(self._followed.values(), timeout=5)
        self._watch.close()
        if self._bound:
            self.engine.events.unbind()
            self._bound = False
        await asyncio.to_thread(self.engine.close)

    # -- the work --------------------------------------------------------------------------

    async def handle(self, message: ChatMessage, conversation: Conversation) -> None:
        """Answer one message (what :meth:`accept` runs; tests may await it)."""
        work = self._handle(message, conversation)
        await self._answering(work, message.correlation_id, conversation.post)

    async def handle_click(self, click: ButtonClick, conversation: Conversation) -> None:
        """Decide the clicked ticket as the clicker; redraw the card, or whisper why not."""
        work = self._handle_click(click, conversation)
        await self._answering(work, click.correlation_id, conversation.whisper)

    async def _answering(
        self,
        work: Coroutine[Any, Any, None],
        correlation_id: str,
        say: Callable[[Reply], Coroutine[Any, Any, Any]],
    ) -> None:
        """Run ``work``; anything unforeseen is logged and answered with the correlation id."""
        self._watch.loop = asyncio.get_running_loop()
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("chat request %s failed", correlation_id)
            with contextlib.suppress(Exception):
                await say(self._fit(unexpected_reply(correlation_id)))

    async def _handle(self, message: ChatMessage, conversation: Conversation) -> None:
        user, cid = message.who, message.correlation_id
        refusal = self._limiter.take((user.platform, user.user_id))
        if refusal is not None:
            await self._rate_limited(user, cid, refusal, message.text, conversation)
            return
        try:
            intent: Intent = self._parse(message)
            problem: ChatParseError | None = None
        except ChatParseError as exc:
            intent, problem = Help(), exc
        if not is_mapped(self.engine, user):
            # Through the door all the same, so the refusal is audited; it is refused before
            # any handler (or model) runs.
            await self.engine.execute(self._request(intent, message))
            await conversation.whisper(self._fit(unmapped_reply(user, cid)))
            return
        if problem is not None:
            reply = error_reply("Not understood", problem.user_message, problem.code, cid)
            await conversation.whisper(self._fit(reply))
            return
        if isinstance(intent, Help):
            result = await self.engine.execute(self._request(intent, message))
            await conversation.whisper(self._fit(help_reply(result, intent.command, self.prefix)))
        elif isinstance(intent, Approvals):
            await self._list_approvals(message, conversation)
        else:
            await self._follow(intent, message, conversation)

    def _parse(self, message: ChatMessage) -> Intent:
        if message.arrival is Arrival.SLASH:
            return parse_command_text(message.text)
        return parse_conversational(message.text)

    def _request(self, intent: Intent, message: ChatMessage) -> CommandRequest:
        """The engine request an intent makes (for Do: its interpretation)."""
        actor, cid = message.who.actor, message.correlation_id
        if isinstance(intent, Run):
            name, arguments = intent.command, intent.arguments
        elif isinstance(intent, Pipeline):
            name, arguments = intent.command, intent.inputs
        elif isinstance(intent, Audit):
            name, arguments = intent.command, intent.arguments
        elif isinstance(intent, Do):
            name, arguments = "nl.interpret", {"text": intent.text}
        elif isinstance(intent, Approvals):
            name, arguments = "approvals.list", {"state": str(TicketState.PENDING)}
        else:
            name, arguments = "commands.list", {}
        return CommandRequest(name, actor, arguments, correlation_id=cid, wait_for_approval=True)

    async def _follow(
        self, intent: Intent, message: ChatMessage, conversation: Conversation
    ) -> None:
        """Run a request with one progress reply in the thread, replaced by the result."""
        title = _title(intent)
        progress = Reply((Text(f"⏳ {title}…"), Context(f"asked by {message.who.mention}")), title)
        ref = await conversation.post(self._fit(progress))
        interval = self.settings.progress_interval_s
        flow = Flow(conversation, ref, title, interval, self._fit)
        self._watch.track(message.correlation_id, flow)
        try:
            reply = await self._run(intent, message)
        except asyncio.CancelledError:
            stopped = "⏹ Cancelled: the bot is shutting down; the audit trail records it."
            with contextlib.suppress(Exception):
                await flow.finish(Reply((Text(stopped),), stopped))
            raise
        except Exception:
            logger.exception("chat request %s failed", message.correlation_id)
            reply = unexpected_reply(message.correlation_id)
        finally:
            self._watch.forget(message.correlation_id, flow)
        await flow.finish(reply)

    async def _run(self, intent: Intent, message: ChatMessage) -> Reply:
        if isinstance(intent, Do):
            outcome = await execute_text(
                self.engine,
                intent.text,
                message.who.actor,
                wait_for_approval=True,
                correlation_id=message.correlation_id,
            )
            return outcome_reply(outcome)
        result = await self.engine.execute(self._request(intent, message))
        lead = None
        if isinstance(intent, Audit) and intent.command == "audit.query":
            lead = "🔎 Read as: " + " ".join(f"`{k}={v}`" for k, v in intent.arguments.items())
        return result_reply(result, lead=lead)

    async def _list_approvals(self, message: ChatMessage, conversation: Conversation) -> None:
        """Each pending ticket, whoever raised it and wherever, as a card to decide here."""
        from bots.chat.approvals import TicketCard  # beside the board that posts it

        result = await self.engine.execute(self._request(Approvals(), message))
        if not result.ok or not isinstance(result.data, list):
            await conversation.whisper(self._fit(result_reply(result)))
            return
        if not result.data:
            text = "No approval tickets are waiting for a decision."
            await conversation.whisper(self._fit(Reply((Text(f"✅ {text}"),), text, private=True)))
            return
        for ticket in result.data:
            shown = TicketCard.from_ticket(ticket)
            await self._board.post(conversation, shown)
            self._follow_ticket(shown.ticket_id)

    def _follow_ticket(self, ticket_id: str) -> None:
        """Redraw a listed ticket's cards once it is decided, by any process: a decision in
        another process (``logomesh approvals approve``, an editor) sends no event here."""
        if ticket_id in self._followed:
            return

        async def follow() -> None:
            service = self.engine.approvals
            try:
                while (ticket := await service.current(ticket_id)) is not None:
                    if ticket.state.final:
                        decision = ticket.final_decision
                        by = decision.approver if decision else None
                        await self._board.settle(ticket_id, str(ticket.state), by)
                        return
                    await asyncio.sleep(CARD_POLL_S)
            except Exception:  # the card stays as it was; a click on it still works
                logger.warning("stopped following ticket %s", ticket_id, exc_info=True)

        task = asyncio.get_running_loop().create_task(follow())
        self._followed[ticket_id] = task
        task.add_done_callback(lambda _: self._followed.pop(ticket_id, None))

    async def _handle_click(self, click: ButtonClick, conversation: Conversation) -> None:
        user = click.who
        refusal = self._limiter.take((user.platform, user.user_id))
        if refusal is not None:
            await self._rate_limited(
                user, click.correlation_id, refusal, click.action, conversation
            )
            return
        answer = await decide_click(self.engine, click)  # engine.decide audits a refusal too
        if not is_mapped(self.engine, user):
            await conversation.whisper(self._fit(unmapped_reply(user, click.correlation_id)))
            return
        if answer.card is not None and answer.ticket_id is not None and answer.state:
            redrawn = await self._board.settle(answer.ticket_id, answer.state, answer.by)
            if click.message_ref is not None and click.message_ref not in redrawn:
                await conversation.update(click.message_ref, self._fit(answer.card))
        if answer.whisper is not None:
            await conversation.whisper(self._fit(answer.whisper))

    async def _rate_limited(
        self, user: ChatUser, cid: str, refusal: Refusal, text: str, conversation: Conversation
    ) -> None:
        identity = self.engine.identities.resolve(user.actor)
        entry = AuditEntry(
            actor=identity.name,
            source=self.platform,
            action="chat.rate_limited",
            outcome=Outcome.DENIED,
            arguments={"text": text[:2000]},
            error=refusal.message,
            correlation_id=cid,
            details={
                "retry_after_s": round(refusal.retry_after_s, 3),
                "per_minute": refusal.per_minute,
                "burst": refusal.burst,
            },
        )
        await self.engine.record_audit(entry)
        reply = error_reply("Slow down", refusal.message, "chat.rate_limited", cid)
        await conversation.whisper(self._fit(reply))

    # -- plumbing --------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """How a person starts a command on this platform (the slash command)."""
        if self.platform is Source.SLACK:
            return self.settings.slack.command
        return "/" + self.settings.discord.command

    def _fit(self, reply: Reply) -> Reply:
        return fit(reply, self._limits) if self._limits is not None else reply

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as a task of the bot's (shutdown waits for it, or cancels it)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(_forget_and_log(self._tasks))

    def _warm_up(self) -> None:
        self.engine.start_embedding_worker()
        self.engine.plugins.serve_in_background()
        self.engine.interpreter.warm_up_in_background()


def _title(intent: Intent) -> str:
    if isinstance(intent, Run):
        return f"Running `{intent.command}`"
    if isinstance(intent, Pipeline):
        return f"Running pipeline `{intent.name}`"
    if isinstance(intent, Audit):
        return (
            "Searching the audit trail"
            if intent.command == "audit.search"
            else "Reading the audit trail"
        )
    return "Reading your request"


def _forget_and_log(tasks: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # handle() answers its own failures; this is a card posted or redrawn in passing.
            logger.error("chat task %s failed", task.get_name(), exc_info=task.exception())

    return done


def _stopping() -> Reply:
    return Reply((Text(f"⏹ {_STOPPING}"),), _STOPPING, private=True)


async def _whisper_quietly(conversation: Conversation, reply: Reply) -> None:
    with contextlib.suppress(Exception):
        await conversation.whisper(reply)
