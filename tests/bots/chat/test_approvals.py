"""Approval buttons: a card per ticket, decided by a click through ``Engine.decide``.

Real parts: a real engine in team mode on a real SQLite file (the two-person rule for danger
commands) (alice admin, bob developer, vera viewer, a stranger mapped to nobody), the real
ChatBot, the recording Conversation (our own port). The CLI side is a real request with a
CLI actor through ``Engine.execute``, waiting for its ticket in a task, as ``logomesh
--wait run`` does; the CLI's decision is ``Engine.decide`` with a CLI actor, as ``logomesh
approvals approve`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bots.chat.approvals import APPROVE, DECLINE, TicketCard, card
from bots.chat.dispatch import ChatBot
from bots.chat.render import Buttons
from logomesh.approvals.models import TicketRequest
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.composition import build_engine
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested
from tests.approvals.conftest import ran
from tests.bots.chat.conftest import (
    ALICE,
    BOB,
    STRANGER,
    VERA,
    EngineFactory,
    RecordingConversation,
    click,
    slash,
    text_of,
)

BOB_CLI = Actor(Source.CLI, "bob-os")
ALICE_CLI = Actor(Source.CLI, "alice-os")


@pytest.fixture(scope="module")
def team(chat_engine_factory: EngineFactory) -> Engine:
    """Team mode: roles required of everyone, and the two-person rule for danger."""
    engine = chat_engine_factory(mode="team")
    assert engine.settings.security.two_person == ("danger",)
    return engine


Scenario = Callable[[ChatBot, RecordingConversation, str, str], Awaitable[Any]]


def raise_in_chat(engine: Engine, note: str, then: Scenario) -> tuple[RecordingConversation, Any]:
    """Alice runs ``test.guarded`` in chat; once its card is up, ``then(bot, thread, card
    ref, ticket id)`` runs beside the waiting request, which is then awaited to the end."""

    async def scenario() -> tuple[RecordingConversation, Any]:
        bot = ChatBot(engine, platform=Source.SLACK)
        thread = RecordingConversation()
        request = asyncio.create_task(bot.handle(slash(f"run test.guarded note={note}"), thread))
        (ref,) = await thread.wait_for(thread.cards)
        ticket_id = _ticket_of(thread, ref)
        answer = await then(bot, thread, ref, ticket_id)
        await asyncio.wait_for(request, 30)
        return thread, answer

    return asyncio.run(scenario())


def _ticket_of(thread: RecordingConversation, ref: str) -> str:
    (buttons,) = [b for b in thread.current[ref].blocks if isinstance(b, Buttons)]
    approve, decline = buttons.buttons
    assert (approve.action, decline.action) == (APPROVE, DECLINE)
    assert approve.value == decline.value
    return approve.value


def _result(thread: RecordingConversation) -> str:
    """The request's reply (the first message in the thread), as it ends."""
    return text_of(thread.current[thread.posted[0][0]])


def test_another_person_approves_with_the_button(team: Engine) -> None:
    """The card shows the command, its risk and redacted arguments; bob's click approves,
    the card says so, and the command runs for alice."""

    async def bob_approves(
        bot: ChatBot, thread: RecordingConversation, ref: str, ticket: str
    ) -> None:
        shown = text_of(thread.current[ref])
        assert "Approval needed" in shown and "`test.guarded` (danger risk)" in shown
        assert "Requested by: alice" in shown and "note=approved-by-bob" in shown
        assert "someone other than alice must approve" in shown
        waiting = text_of(thread.current[thread.posted[0][0]])
        assert f"Waiting for a decision on ticket `{ticket}`" in waiting
        await bot.handle_click(click(APPROVE, ticket, BOB, ref), thread)

    thread, _ = raise_in_chat(team, "approved-by-bob", bob_approves)
    ref = thread.posted[1][0]
    assert text_of(thread.current[ref]).startswith("✅ Approved by bob: `test.guarded`")
    assert thread.cards() == []
    assert "✅ *test.guarded*: ran" in _result(thread)
    assert "approved-by-bob" in ran(team)
    assert thread.whispers == []
    # The card was redrawn once, though both the click and the bus told the bot.
    assert [r for r, _ in thread.updates].count(ref) == 1


def test_the_requester_cannot_approve_their_own_under_the_two_person_rule(team: Engine) -> None:
    async def alice_then_bob(
        bot: ChatBot, thread: RecordingConversation, ref: str, ticket: str
    ) -> str:
        await bot.handle_click(click(APPROVE, ticket, ALICE, ref), thread)
        refusal = text_of(thread.whispers[-1])
        assert thread.cards() == [ref]  # still open
        await bot.handle_click(click(DECLINE, ticket, BOB, ref), thread)
        return refusal

    thread, refusal = raise_in_chat(team, "self-approved", alice_then_bob)
    assert "Someone else must approve this." in refusal
    assert "`approval.two_person`" in refusal
    assert text_of(thread.current[thread.posted[1][0]]).startswith("🚫 Declined by bob")
    assert "did not run" in _result(thread) and "declined by bob" in _result(thread)
    assert "self-approved" not in ran(team)


def test_someone_not_allowed_to_decide_is_told_why(team: Engine) -> None:
    """A viewer, and a stranger nobody mapped: refused by the engine (and audited), the
    card stays as it was, and the stranger learns what an admin must add."""

    async def others_click(
        bot: ChatBot, thread: RecordingConversation, ref: str, ticket: str
    ) -> list[str]:
        await bot.handle_click(click(APPROVE, ticket, VERA, ref), thread)
        await bot.handle_click(click(APPROVE, ticket, STRANGER, ref), thread)
        said = [text_of(w) for w in thread.whispers]
        assert thread.cards() == [ref]
        await bot.handle_click(click(DECLINE, ticket, BOB, ref), thread)
        return said

    _, (vera, stranger) = raise_in_chat(team, "not-allowed", others_click)
    assert "vera may not decide approval tickets" in vera and "`command.denied`" in vera
    assert 'slack = ["USTRANGER"]' in stranger
    refusals = team.audit.store.query(AuditFilter(action="approval.decide", outcome="denied"))
    assert {"vera", "slack:USTRANGER"} <= {record.actor for record in refusals}


def test_a_decided_ticket_answers_who_decided_it(team: Engine) -> None:
    async def twice(bot: ChatBot, thread: RecordingConversation, ref: str, ticket: str) -> str:
        await bot.handle_click(click(DECLINE, ticket, BOB, ref), thread)
        await bot.handle_click(click(APPROVE, ticket, ALICE, ref), thread)  # too late
        return text_of(thread.whispers[-1])

    thread, late = raise_in_chat(team, "decided-twice", twice)
    assert "was already declined by bob (slack)" in late
    assert "`approval.already_decided`" in late
    assert text_of(thread.current[thread.posted[1][0]]).startswith("🚫 Declined by bob")


def test_an_expired_ticket_answers_expired(team: Engine) -> None:
    async def scenario() -> RecordingConversation:
        ticket = await team.approvals.open(
            TicketRequest(
                correlation_id="c-expired", command="test.guarded", risk=RiskLevel.DANGER,
                arguments={"note": "late"}, requester="bob", requester_source="cli",
                separate_approver=True, timeout_s=0.05,
            )
        )  # fmt: skip
        await asyncio.sleep(0.1)
        thread = RecordingConversation()
        ref = await thread.post(card(TicketCard.from_ticket(ticket.to_dict())))
        await ChatBot(team, platform=Source.SLACK).handle_click(
            click(APPROVE, ticket.id, ALICE, ref), thread
        )
        return thread

    thread = asyncio.run(scenario())
    said = text_of(thread.whispers[-1])
    assert "expired at" in said and "`approval.expired`" in said
    assert text_of(thread.current["ts-1"]).startswith("⌛ Expired: `test.guarded`")


def test_unknown_buttons_and_tickets_are_refused_clearly(team: Engine) -> None:
    async def scenario() -> list[str]:
        bot = ChatBot(team, platform=Source.SLACK)
        thread = RecordingConversation()
        await bot.handle_click(click("logomesh.launch", "x", BOB), thread)
        await bot.handle_click(click(APPROVE, "  ", BOB), thread)
        await bot.handle_click(click(APPROVE, "no-such-ticket", BOB), thread)
        return [text_of(w) for w in thread.whispers]

    launch, empty, unknown = asyncio.run(scenario())
    assert "('logomesh.launch') is not one of LogoMesh's approval buttons" in launch
    assert "names no approval ticket" in empty
    assert "There is no approval ticket 'no-such-ticket'" in unknown
    assert "`approval.unknown`" in unknown


def test_a_ticket_raised_in_the_cli_is_listed_and_decided_in_chat(team: Engine) -> None:
    """alice waits in the CLI; bob lists the pending tickets in chat and approves hers."""

    async def scenario() -> tuple[CommandResult, RecordingConversation]:
        request = CommandRequest(
            "test.guarded", ALICE_CLI, {"note": "from-cli", "token": "xoxb-1234567890-abcdefghij"},
            wait_for_approval=True,
        )  # fmt: skip
        opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_open(event: ApprovalRequested) -> None:
            if not opened.done():
                opened.set_result(event.ticket_id)

        unsubscribe = team.events.subscribe(ApprovalRequested, on_open)
        waiting = asyncio.create_task(team.execute(request))
        await asyncio.wait_for(opened, 30)
        unsubscribe()
        bot = ChatBot(team, platform=Source.SLACK)
        thread = RecordingConversation()
        await bot.handle(slash("approvals", who=BOB), thread)
        cards = [ref for ref in thread.cards() if "from-cli" in text_of(thread.current[ref])]
        (ref,) = cards
        shown = text_of(thread.current[ref])
        assert "Requested by: alice" in shown and "xoxb-1234567890" not in shown
        await bot.handle_click(click(APPROVE, _ticket_of(thread, ref), BOB, ref), thread)
        return await asyncio.wait_for(waiting, 30), thread

    result, thread = asyncio.run(scenario())
    assert result.ok, result.message
    assert "from-cli" in ran(team)
    assert any(text_of(r).startswith("✅ Approved by bob") for r in thread.current.values())


def test_a_ticket_raised_in_chat_is_decided_in_the_cli(team: Engine) -> None:
    """bob approves from the CLI (Engine.decide with his CLI actor): the card in the chat
    thread is redrawn from the engine's event, and alice's command runs."""

    async def bob_in_cli(
        bot: ChatBot, thread: RecordingConversation, ref: str, ticket: str
    ) -> None:
        await team.decide(ticket, BOB_CLI, True, "looked fine")
        await thread.wait_for(lambda: not thread.cards())

    thread, _ = raise_in_chat(team, "approved-in-cli", bob_in_cli)
    assert text_of(thread.current[thread.posted[1][0]]).startswith("✅ Approved by bob")
    assert "✅ *test.guarded*: ran" in _result(thread)
    assert "approved-in-cli" in ran(team)


def test_no_pending_tickets_is_said_privately(chat_engine: Engine) -> None:
    thread = RecordingConversation()
    asyncio.run(ChatBot(chat_engine, platform=Source.SLACK).handle(slash("approvals"), thread))
    assert thread.posted == []
    assert "No approval tickets are waiting" in text_of(thread.whispers[-1])


def test_a_pipeline_steps_ticket_shows_in_the_runs_thread(team: Engine) -> None:
    """A danger pipeline asks once to start, then its danger step asks on its own ticket
    (the step's request is a child of the run): both cards appear in the run's thread."""

    async def scenario() -> RecordingConversation:
        bot = ChatBot(team, platform=Source.SLACK)
        thread = RecordingConversation()
        run = asyncio.create_task(bot.handle(slash("pipeline guardedrun"), thread))
        for command in ("pipeline.guardedrun", "test.guarded"):
            (ref,) = await thread.wait_for(thread.cards)
            assert f"`{command}` (danger risk)" in text_of(thread.current[ref])
            await bot.handle_click(click(APPROVE, _ticket_of(thread, ref), BOB, ref), thread)
        await asyncio.wait_for(run, 30)
        return thread

    thread = asyncio.run(scenario())
    cards = [text_of(thread.current[ref]) for ref, _ in thread.posted[1:]]
    assert [c.split(":")[0] for c in cards] == ["✅ Approved by bob"] * 2
    assert "✅ *pipeline.guardedrun*" in _result(thread)
    assert "from-pipeline" in ran(team)


def test_in_team_mode_nothing_runs_for_an_unmapped_user(team: Engine) -> None:
    thread = RecordingConversation()
    message = slash("run status", who=STRANGER)
    asyncio.run(ChatBot(team, platform=Source.SLACK).handle(message, thread))
    assert thread.posted == []
    assert 'slack = ["USTRANGER"]' in text_of(thread.whispers[-1])
    records = team.audit.store.query(AuditFilter(correlation_id=message.correlation_id))
    assert [(r.action, r.outcome) for r in records] == [("status", "denied")]


def test_a_listed_ticket_decided_in_another_process_is_redrawn(team: Engine) -> None:
    """Another engine on the same database stands for another process: alice waits there
    (``logomesh --wait run``), bob lists the ticket in chat, then approves it in a terminal
    (``logomesh approvals approve`` there). No event reaches the bot's engine; its card
    follows the ticket's row and is redrawn with who decided."""
    other = build_engine(team.settings, registry=team.registry)

    async def scenario() -> tuple[CommandResult, RecordingConversation]:
        request = CommandRequest(
            "test.guarded", ALICE_CLI, {"note": "other-process"}, wait_for_approval=True
        )
        waiting = asyncio.create_task(other.execute(request))
        bot = ChatBot(team, platform=Source.SLACK)
        thread = RecordingConversation()
        while not thread.cards():
            await bot.handle(slash("approvals", who=BOB), thread)
            await asyncio.sleep(0.05)
        (ref,) = [r for r in thread.cards() if "other-process" in text_of(thread.current[r])]
        await other.decide(_ticket_of(thread, ref), BOB_CLI, True, "fine")
        await asyncio.wait_for(thread.wait_for(lambda: ref not in thread.cards()), 30)
        result = await asyncio.wait_for(waiting, 30)
        return result, thread

    try:
        result, thread = asyncio.run(scenario())
    finally:
        other.close()
    assert result.ok, result.message
    redrawn = [text_of(r) for r in thread.current.values() if "other-process" in text_of(r)]
    assert redrawn and redrawn[0].startswith("✅ Approved by bob")
