"""The bot as a long-lived adapter: it starts the engine's background work and binds its
events to the loop, and on shutdown lets requests finish, cancels the late ones (recorded
as cancelled) and closes the engine.

Real parts: a real engine per test on a real SQLite file (shutdown closes it), the real
ChatBot and the recording Conversation (our own port). No test here loads the model: the
interpreter's warm-up is started by ``start`` and stopped by the engine's close.
"""

from __future__ import annotations

import asyncio

from bots.chat.dispatch import ChatBot
from logomesh.audit.query import AuditFilter
from logomesh.commands.values import Source
from tests.bots.chat.conftest import EngineFactory, RecordingConversation, slash, text_of


def test_shutdown_finishes_what_it_can_and_cancels_the_rest(
    chat_engine_factory: EngineFactory,
) -> None:
    engine = chat_engine_factory()
    quick, slow = (
        slash("run test.progress count=1 pause_s=0.1"),
        slash("run test.progress count=1 pause_s=30"),
    )

    async def scenario() -> tuple[RecordingConversation, RecordingConversation, list[str]]:
        bot = ChatBot(engine, platform=Source.SLACK)
        await bot.start()
        assert engine.events.bound_loop is asyncio.get_running_loop()
        fast_thread, slow_thread, late_thread = (RecordingConversation() for _ in range(3))
        bot.accept(quick, fast_thread)
        bot.accept(slow, slow_thread)
        await slow_thread.wait_for(lambda: slow_thread.updates)  # it reported, then sleeps
        assert bot.in_flight == 2
        await bot.shutdown(grace_s=1.0)
        assert bot.in_flight == 0 and engine.events.bound_loop is None
        bot.accept(slash("run status"), late_thread)  # after shutdown: told, nothing runs
        await late_thread.wait_for(lambda: late_thread.whispers)
        return fast_thread, slow_thread, [text_of(w) for w in late_thread.whispers]

    fast_thread, slow_thread, late = asyncio.run(scenario())
    assert "✅ *test.progress*" in text_of(fast_thread.current[fast_thread.posted[0][0]])
    stopped = text_of(slow_thread.current[slow_thread.posted[0][0]])
    assert "Cancelled: the bot is shutting down" in stopped
    assert "LogoMesh is restarting" in late[0]
    # Closed, the engine still reads its database: the cancellation was recorded first.
    records = engine.audit.store.query(AuditFilter(correlation_id=slow.correlation_id))
    assert [(r.action, r.outcome) for r in records] == [("test.progress", "cancelled")]
