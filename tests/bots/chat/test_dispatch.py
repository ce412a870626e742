"""The neutral bot end to end: each subcommand from a chat message to the engine and back.

Real parts: a real engine on a real SQLite file (the built-in commands, a few test commands
and a workspace pipeline), the real ChatBot, and the recording Conversation (our own port,
see conftest). Nothing here needs the language model; natural language is test_nl.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bots.chat.dispatch import ChatBot
from bots.chat.fitting import Limits
from bots.chat.render import Code, Context, Fields, Reply, Table
from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.commands.values import Source
from logomesh.engine import Engine
from tests.bots.chat.conftest import (
    ALICE,
    STRANGER,
    VERA,
    EngineFactory,
    RecordingConversation,
    blocks_of,
    mention,
    slash,
    text_of,
)


def trail(engine: Engine, correlation_id: str) -> list[AuditRecord]:
    return engine.audit.store.query(AuditFilter(correlation_id=correlation_id, oldest_first=True))


def ask(engine: Engine, text: str, bot: ChatBot | None = None, **kw: Any) -> RecordingConversation:
    """One slash command, handled to the end; the thread as it then stands."""
    conversation = RecordingConversation()
    chat = bot or ChatBot(engine, platform=Source.SLACK)
    message = kw.pop("message", None) or slash(text, **kw)
    asyncio.run(chat.handle(message, conversation))
    return conversation


def final(conversation: RecordingConversation) -> Reply:
    """The one reply in the thread (the progress reply, as the result replaced it)."""
    assert len(conversation.posted) == 1, [text_of(r) for _, r in conversation.posted]
    return conversation.current[conversation.posted[0][0]]


def test_run_posts_progress_then_replaces_it_with_the_result(chat_engine: Engine) -> None:
    """`run status`: one reply in the thread, first "Running", then the result, and the
    audit record carries the chat message's correlation id and source."""
    message = slash("run status")
    conversation = ask(chat_engine, "", message=message)
    _, first = conversation.posted[0]
    assert "⏳ Running `status`…" in text_of(first)
    assert "<@UALICE>" in text_of(first)
    reply = final(conversation)
    assert "✅ *status*" in text_of(reply)
    assert blocks_of(reply, Fields)  # the status as label/value pairs
    assert f"correlation id `{message.correlation_id}`" in blocks_of(reply, Context)[-1].text
    (record,) = trail(chat_engine, message.correlation_id)
    assert (record.action, record.actor, record.source, record.outcome) == (
        "status", "alice", "slack", "ok",
    )  # fmt: skip
    assert conversation.whispers == []


def test_a_failing_command_says_what_failed_and_its_code(chat_engine: Engine) -> None:
    reply = final(ask(chat_engine, "run test.fail"))
    said = text_of(reply)
    assert "❌ *test.fail* failed: The test command failed on purpose" in said
    assert "error code `command.error`" in said


def test_an_unknown_command_is_named_with_what_was_meant(chat_engine: Engine) -> None:
    said = text_of(final(ask(chat_engine, "run test.fial")))
    assert "Unknown command 'test.fial'" in said and "Did you mean test.fail" in said
    assert "`command.unknown`" in said


def test_bad_arguments_name_the_field(chat_engine: Engine) -> None:
    said = text_of(final(ask(chat_engine, "run test.progress count=many")))
    assert "count" in said and "`command.invalid_arguments`" in said


def test_progress_edits_the_one_reply_as_the_command_reports(chat_engine: Engine) -> None:
    conversation = ask(chat_engine, "run test.progress count=3 pause_s=0.05")
    ref = conversation.posted[0][0]
    edits = [text_of(reply) for edited, reply in conversation.updates if edited == ref]
    assert any("step 1 of 3" in edit and "(33%)" in edit for edit in edits), edits
    assert any("step 3 of 3" in edit for edit in edits), edits
    assert "✅ *test.progress*: 3 steps done." in edits[-1]


def test_progress_edits_are_throttled(chat_engine_factory: EngineFactory) -> None:
    """Twenty reports within ~0.2 s, with bots.progress_interval_s = 0.15: a few edits."""
    engine = chat_engine_factory(bots={"progress_interval_s": 0.15})
    conversation = ask(engine, "run test.progress count=20 pause_s=0.01")
    edits = [ref for ref, _ in conversation.updates]
    assert 2 <= len(edits) <= 4, [text_of(r) for _, r in conversation.updates]


def test_long_output_is_cut_and_attached_whole(chat_engine: Engine) -> None:
    bot = ChatBot(chat_engine, platform=Source.SLACK, limits=Limits())
    reply = final(ask(chat_engine, "run test.long lines=400", bot=bot))
    (code,) = blocks_of(reply, Code)
    assert len(code.text) <= Limits().code_chars
    assert code.text.endswith("(cut: full output attached as output.txt)")
    (attachment,) = reply.attachments
    assert attachment.filename == "output.txt"
    assert attachment.content.count("\n") == 399 and "line 0399" in attachment.content


def test_a_pipeline_shows_its_steps_as_they_go(chat_engine: Engine) -> None:
    message = slash("pipeline twostep count=2")
    conversation = ask(chat_engine, "", message=message)
    edits = [text_of(reply) for _, reply in conversation.updates]
    assert any("first ⏳" in edit for edit in edits), edits
    assert any("first ✓" in edit and "second" in edit for edit in edits), edits
    assert "✅ *pipeline.twostep*" in edits[-1]
    actions = [record.action for record in trail(chat_engine, message.correlation_id)]
    assert actions[-1] == "pipeline.twostep"


def test_audit_last_n_is_a_table_of_records(chat_engine: Engine) -> None:
    ask(chat_engine, "run status")
    reply = final(ask(chat_engine, "audit last 3", who=VERA))  # a viewer has audit.read
    (table,) = blocks_of(reply, Table)
    assert table.columns == ("time", "actor", "source", "action", "target", "outcome")
    assert len(table.rows) == 3


def test_audit_in_words_says_how_it_was_read(chat_engine: Engine) -> None:
    ask(chat_engine, "run test.fail")
    reply = final(ask(chat_engine, "audit who ran test.fail today"))
    said = text_of(reply)
    assert "Read as: `action=test.fail` `since=24h` `limit=20`" in said
    (table,) = blocks_of(reply, Table)
    assert table.rows and {row[3] for row in table.rows} == {"test.fail"}


def test_help_lists_only_what_this_person_may_run(chat_engine: Engine) -> None:
    def listed(who: Any) -> set[str]:
        conversation = ask(chat_engine, "help", who=who)
        assert conversation.posted == []
        (reply,) = conversation.whispers
        assert reply.private
        (table,) = blocks_of(reply, Table)
        return {row[0] for row in table.rows}

    admin, viewer = listed(ALICE), listed(VERA)
    assert {"test.guarded", "db.backup", "status"} <= admin
    assert "status" in viewer and "audit.query" in viewer
    assert not {"test.guarded", "db.backup", "git.status"} & viewer
    assert viewer < admin


def test_help_for_one_command(chat_engine: Engine) -> None:
    (reply,) = ask(chat_engine, "help test.progress").whispers
    said = text_of(reply)
    assert "Risk: read" in said and "`count`" in said
    assert "`/logomesh run test.progress count=… pause_s=…`" in said
    (refused,) = ask(chat_engine, "help test.guarded", who=VERA).whispers
    assert "`test.guarded` is not a command you may run here" in text_of(refused)


def test_a_mistake_in_the_grammar_is_whispered_with_the_fix(chat_engine: Engine) -> None:
    conversation = ask(chat_engine, "rnu status")
    assert conversation.posted == []
    (reply,) = conversation.whispers
    said = text_of(reply)
    assert "Not understood: Unknown subcommand `rnu`. Did you mean `run`?" in said
    assert "`chat.parse`" in said


def test_an_unmapped_user_is_told_what_an_admin_must_add(chat_engine: Engine) -> None:
    """Nothing runs for them, the refusal is audited, and the TOML has their id filled in."""
    for message in (slash("run status", who=STRANGER), mention("what changed?", who=STRANGER)):
        conversation = ask(chat_engine, "", message=message)
        assert conversation.posted == []
        (reply,) = conversation.whispers
        (snippet,) = blocks_of(reply, Code)
        assert snippet.text.startswith("[[security.identities]]\n")
        assert 'name = "sam-stranger"' in snippet.text
        assert 'slack = ["USTRANGER"]' in snippet.text
        assert "~/.config/logomesh/config.toml" in text_of(reply)
        (record,) = trail(chat_engine, message.correlation_id)
        assert (record.actor, record.outcome) == ("slack:USTRANGER", "denied")
        assert "has no roles" in (record.error or "")
    # Refused before its handler ran: the interpretation never reached the model.
    assert "interpreter" not in chat_engine.__dict__


def test_the_rate_limit_refuses_with_when_to_retry_and_is_audited(chat_engine: Engine) -> None:
    now = [1000.0]
    bot = ChatBot(chat_engine, platform=Source.SLACK, clock=lambda: now[0])
    burst = chat_engine.settings.bots.rate_limit_burst
    conversation = RecordingConversation()

    async def send(count: int) -> None:
        for _ in range(count):
            await bot.handle(slash("nonsense"), conversation)  # cheap: a grammar mistake

    asyncio.run(send(burst))
    assert all("Not understood" in text_of(r) for r in conversation.whispers)
    message = slash("run status")
    asyncio.run(bot.handle(message, conversation))
    refused = text_of(conversation.whispers[-1])
    assert "Slow down" in refused and "try again in 2 s" in refused
    (record,) = trail(chat_engine, message.correlation_id)
    assert (record.action, record.outcome, record.actor) == ("chat.rate_limited", "denied", "alice")
    assert record.details["burst"] == burst
    now[0] += 2.0  # one request's worth at 30 a minute
    again = RecordingConversation()
    asyncio.run(bot.handle(slash("run status"), again))
    assert "✅ *status*" in text_of(final(again))


class BrokenConversation(RecordingConversation):
    """Our port failing in a way nobody foresaw: its first edit raises."""

    async def update(self, ref: str, reply: Reply) -> None:
        raise RuntimeError("the platform went away")


def test_anything_unexpected_is_logged_and_answered_with_the_correlation_id(
    chat_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = BrokenConversation()
    message = slash("run status")
    asyncio.run(ChatBot(chat_engine, platform=Source.SLACK).handle(message, conversation))
    said = text_of(conversation.posted[-1][1])
    assert "Something went wrong on LogoMesh's side" in said
    assert message.correlation_id in said
    assert "the platform went away" in caplog.text


def test_accept_returns_at_once_and_tracks_the_work(chat_engine: Engine) -> None:
    async def scenario() -> tuple[int, int, RecordingConversation]:
        bot = ChatBot(chat_engine, platform=Source.SLACK)
        conversation = RecordingConversation()
        bot.accept(slash("run test.progress count=1 pause_s=0.2"), conversation)
        during = bot.in_flight
        await conversation.wait_for(
            lambda: "✅" in text_of(final(conversation)) if conversation.posted else False
        )
        await asyncio.sleep(0)
        return during, bot.in_flight, conversation

    during, after, _ = asyncio.run(scenario())
    assert (during, after) == (1, 0)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pipeline nosuch", ["Unknown command 'pipeline.nosuch'", "`command.unknown`"]),
        ("pipeline twostep count=lots", ["count", "`command.invalid_arguments`"]),
        ("audit since=someday", ["`since`: 'someday' is neither an ISO date/time", "2h, 7d"]),
        ("audit colour=red", ["colour", "`command.invalid_arguments`"]),
    ],
)
def test_bad_pipeline_and_audit_requests_say_which_field_and_how_to_fix(
    chat_engine: Engine, text: str, says: list[str]
) -> None:
    said = text_of(final(ask(chat_engine, text)))
    for part in says:
        assert part in said, said
